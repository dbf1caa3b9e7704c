//! Staff: an owner invites with a single-use, expiring `business_invite_<token>` link. Staff
//! manage offers; they cannot edit the business or invite others.

use teloxide::types::ChatId;

use super::super::{Context, HandlerError};
use crate::store::businesses::{self, BusinessStatus};
use crate::store::outbound::{self, OutboundMessage};
use crate::store::staff::{self, InviteOutcome};

/// How long an invitation link stays valid.
pub const INVITE_VALID_HOURS: i32 = 48;

/// `/invite_staff`: one link per business the user owns.
pub async fn invite(ctx: &mut Context<'_>, chat: ChatId) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    let memberships = businesses::of_member(ctx.conn, user_id).await?;
    let owned: Vec<_> = memberships
        .iter()
        .filter(|(business, role)| {
            role == "owner"
                && matches!(
                    business.status(),
                    BusinessStatus::Approved | BusinessStatus::Suspended
                )
        })
        .map(|(business, _)| (business.id, business.name.clone()))
        .collect();
    if owned.is_empty() {
        let text = if memberships.is_empty() {
            ctx.texts.biz.newdeal_no_business
        } else if memberships.iter().any(|(_, role)| role == "staff") {
            ctx.texts.biz.staff_cannot_invite
        } else {
            ctx.texts.biz.newdeal_pending
        };
        ctx.send(chat, text, None);
        return Ok(());
    }
    let username = super::bot_username(ctx.app).await?;
    for (business_id, name) in owned {
        let token =
            staff::create_invite(ctx.conn, business_id, user_id, INVITE_VALID_HOURS).await?;
        ctx.audit(
            "business.staff_invited",
            "business",
            Some(business_id.to_string()),
            None,
            Some(serde_json::json!({ "expires_in_hours": INVITE_VALID_HOURS })),
        )
        .await?;
        let link = format!("https://t.me/{username}?start=business_invite_{token}");
        let text = ctx.texts.staff_invite(&name, &link, INVITE_VALID_HOURS);
        ctx.send(chat, text, None);
    }
    Ok(())
}

/// The `business_invite_<token>` deep link.
pub async fn accept(ctx: &mut Context<'_>, chat: ChatId, token: &str) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    match staff::accept_invite(ctx.conn, token, user_id).await? {
        InviteOutcome::Joined {
            business_id,
            invited_by,
        } => {
            ctx.audit(
                "business.staff_joined",
                "business",
                Some(business_id.to_string()),
                None,
                Some(serde_json::json!({ "user_id": user_id, "role": "staff" })),
            )
            .await?;
            let name = businesses::get(ctx.conn, business_id)
                .await?
                .map(|b| b.name)
                .unwrap_or_default();
            let text = ctx.texts.staff_joined(&name);
            ctx.send(chat, text, None);
            let notice = crate::texts::for_language(None)
                .staff_joined_owner_notice(&ctx.user.first_name, &name);
            outbound::enqueue(ctx.conn, invited_by, &OutboundMessage::text(notice)).await?;
            super::publish_chat_commands(ctx.app, user_id, super::STAFF_COMMANDS).await;
        }
        InviteOutcome::AlreadyMember { .. } => {
            let text = ctx.texts.biz.staff_already_member;
            ctx.send(chat, text, None);
        }
        InviteOutcome::Invalid => {
            let text = ctx.texts.biz.staff_invite_invalid;
            ctx.send(chat, text, None);
        }
    }
    Ok(())
}
