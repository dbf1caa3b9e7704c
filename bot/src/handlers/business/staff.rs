//! Staff: an owner invites with a single-use, expiring `business_invite_<token>` link, and
//! manages them with `/staff` (who joined when and by whose invitation, [Remove] with a
//! confirmation, open links with [Revoke]). Staff manage deals and pickups; what else they may
//! do is `marketplace::permissions`.

use teloxide::types::{CallbackQuery, ChatId, InlineKeyboardMarkup, ReplyMarkup};

use super::super::{Context, HandlerError};
use crate::marketplace::permissions::{self, Action, Role};
use crate::store::businesses::{self, Business, BusinessStatus};
use crate::store::outbound::{self, Notice};
use crate::store::staff::{self, InviteOutcome, Member};
use crate::telegram::callback::CallbackData;

const LIST: &str = "st_ls";
const REMOVE: &str = "st_rm";
const REMOVE_CONFIRMED: &str = "st_rm_yes";
const REVOKE: &str = "st_rv";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    List { business_id: i64 },
    Remove { business_id: i64, user_id: i64 },
    RemoveConfirmed { business_id: i64, user_id: i64 },
    Revoke { business_id: i64, invite_id: i64 },
}

impl Button {
    pub fn from_data(data: &CallbackData) -> Option<Self> {
        Some(match (data.action.as_str(), data.args.as_slice()) {
            (LIST, [business_id]) => Self::List {
                business_id: *business_id,
            },
            (REMOVE, [business_id, user_id]) => Self::Remove {
                business_id: *business_id,
                user_id: *user_id,
            },
            (REMOVE_CONFIRMED, [business_id, user_id]) => Self::RemoveConfirmed {
                business_id: *business_id,
                user_id: *user_id,
            },
            (REVOKE, [business_id, invite_id]) => Self::Revoke {
                business_id: *business_id,
                invite_id: *invite_id,
            },
            _ => return None,
        })
    }

    fn business_id(self) -> i64 {
        match self {
            Self::List { business_id }
            | Self::Remove { business_id, .. }
            | Self::RemoveConfirmed { business_id, .. }
            | Self::Revoke { business_id, .. } => business_id,
        }
    }
}

/// The businesses the user may do `action` for, among those they act for; when there are none,
/// the sentence that says why.
async fn businesses_for(
    ctx: &mut Context<'_>,
    action: Action,
) -> Result<Result<Vec<Business>, &'static str>, HandlerError> {
    let memberships = businesses::of_member(ctx.conn, ctx.user_id()).await?;
    let allowed: Vec<Business> = memberships
        .iter()
        .filter(|(business, role)| {
            Role::parse(role).is_some_and(|role| permissions::allowed(role, action))
                && matches!(
                    business.status(),
                    BusinessStatus::Approved | BusinessStatus::Suspended
                )
        })
        .map(|(business, _)| business.clone())
        .collect();
    if !allowed.is_empty() {
        return Ok(Ok(allowed));
    }
    Ok(Err(if memberships.is_empty() {
        ctx.texts.biz.newdeal_no_business
    } else if memberships
        .iter()
        .any(|(_, role)| Role::parse(role).is_some_and(|role| !permissions::allowed(role, action)))
    {
        ctx.texts.biz.owner_only(action)
    } else {
        ctx.texts.biz.newdeal_pending
    }))
}

/// `/staff`: one message per business the user may manage the staff of.
pub async fn list(ctx: &mut Context<'_>, chat: ChatId) -> Result<(), HandlerError> {
    let owned = match businesses_for(ctx, Action::ManageStaff).await? {
        Ok(owned) => owned,
        Err(text) => {
            ctx.send(chat, text, None);
            return Ok(());
        }
    };
    for business in owned {
        let (text, markup) = screen(ctx, &business).await?;
        ctx.send(chat, text, Some(ReplyMarkup::InlineKeyboard(markup)));
    }
    Ok(())
}

/// A business's staff and open invitation links, with their buttons.
async fn screen(
    ctx: &mut Context<'_>,
    business: &Business,
) -> Result<(String, InlineKeyboardMarkup), HandlerError> {
    let members = staff::members(ctx.conn, business.id).await?;
    let invites = staff::open_invites(ctx.conn, business.id).await?;
    let tz = ctx.app.config.timezone;
    let texts = &ctx.texts.biz;
    let member_lines: Vec<String> = members
        .iter()
        .map(|m| texts.staff_member_line(m, tz))
        .collect();
    let invite_lines: Vec<String> = invites
        .iter()
        .enumerate()
        .map(|(n, invite)| texts.open_invite_line(n + 1, invite.expires_at, tz))
        .collect();
    let text = texts.staff_screen(&business.name, &member_lines, &invite_lines);
    let mut rows = Vec::new();
    for member in members.iter().filter(|m| m.role() == Some(Role::Staff)) {
        rows.push(vec![ctx.button(
            &texts.remove_member_button(&display_name(ctx, member)),
            REMOVE,
            &[business.id, member.user_id],
        )?]);
    }
    for (n, invite) in invites.iter().enumerate() {
        rows.push(vec![ctx.button(
            &texts.revoke_invite_button(n + 1),
            REVOKE,
            &[business.id, invite.id],
        )?]);
    }
    Ok((text, InlineKeyboardMarkup::new(rows)))
}

fn display_name(ctx: &Context<'_>, member: &Member) -> String {
    ctx.texts
        .biz
        .member_name(&member.first_name, member.username.as_deref())
}

pub async fn on_button(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    button: Button,
) -> Result<(), HandlerError> {
    let business_id = button.business_id();
    // Checked at the press: an owner's old /staff message does nothing for someone else.
    if !super::permit_press(ctx, query, business_id, Action::ManageStaff).await? {
        return Ok(());
    }
    let Some(business) = businesses::get(ctx.conn, business_id).await? else {
        let notice = ctx.texts.biz.not_your_business;
        ctx.answer_callback(query, Some(notice));
        return Ok(());
    };
    match button {
        Button::List { .. } => {
            ctx.answer_callback(query, None);
            refresh(ctx, query, &business).await
        }
        Button::Remove { user_id, .. } => {
            let members = staff::members(ctx.conn, business.id).await?;
            let Some(member) = members
                .iter()
                .find(|m| m.user_id == user_id && m.role() == Some(Role::Staff))
            else {
                let notice = ctx.texts.biz.no_longer_staff;
                ctx.answer_callback(query, Some(notice));
                return refresh(ctx, query, &business).await;
            };
            ctx.answer_callback(query, None);
            let name = display_name(ctx, member);
            let texts = &ctx.texts.biz;
            let markup = InlineKeyboardMarkup::new([[
                ctx.button(
                    texts.remove_confirm_button,
                    REMOVE_CONFIRMED,
                    &[business.id, user_id],
                )?,
                ctx.button(texts.back_button, LIST, &[business.id])?,
            ]]);
            let text = texts.remove_member_question(&name, &business.name);
            super::replace_pressed(ctx, query, text, Some(markup)).await
        }
        Button::RemoveConfirmed { user_id, .. } => {
            let members = staff::members(ctx.conn, business.id).await?;
            let name = members
                .iter()
                .find(|m| m.user_id == user_id)
                .map(|m| display_name(ctx, m));
            // Pressed twice, or removed from another message meanwhile: nothing to do.
            let removed = staff::remove(ctx.conn, business.id, user_id).await?;
            let (Some(name), true) = (name, removed) else {
                let notice = ctx.texts.biz.no_longer_staff;
                ctx.answer_callback(query, Some(notice));
                return refresh(ctx, query, &business).await;
            };
            ctx.audit(
                "business.staff_removed",
                "business",
                Some(business.id.to_string()),
                Some(serde_json::json!({ "user_id": user_id, "role": "staff" })),
                None,
            )
            .await?;
            tracing::info!(business_id = business.id, user_id, "staff member removed");
            let notice = Notice::RemovedFromStaff {
                business: business.name.clone(),
            };
            outbound::enqueue_template(ctx.conn, user_id, notice).await?;
            let still_member = !businesses::of_member(ctx.conn, user_id).await?.is_empty();
            if !still_member {
                let removed_texts = crate::texts::for_user(ctx.conn, user_id).await?;
                super::publish_chat_commands(ctx.app, removed_texts, user_id, &[]).await;
            }
            let answer = ctx.texts.biz.member_removed(&name);
            ctx.answer_callback(query, Some(answer.as_str()));
            refresh(ctx, query, &business).await
        }
        Button::Revoke { invite_id, .. } => {
            let notice = if staff::revoke_invite(ctx.conn, business.id, invite_id).await? {
                ctx.audit(
                    "business.staff_invite_revoked",
                    "business",
                    Some(business.id.to_string()),
                    None,
                    Some(serde_json::json!({ "invite_id": invite_id })),
                )
                .await?;
                ctx.texts.biz.invite_revoked
            } else {
                ctx.texts.biz.invite_not_open
            };
            ctx.answer_callback(query, Some(notice));
            refresh(ctx, query, &business).await
        }
    }
}

async fn refresh(
    ctx: &mut Context<'_>,
    query: &CallbackQuery,
    business: &Business,
) -> Result<(), HandlerError> {
    let (text, markup) = screen(ctx, business).await?;
    super::replace_pressed(ctx, query, text, Some(markup)).await
}

/// How long an invitation link stays valid.
pub const INVITE_VALID_HOURS: i32 = 48;

/// `/invite_staff`: one link per business the user owns.
pub async fn invite(ctx: &mut Context<'_>, chat: ChatId) -> Result<(), HandlerError> {
    let user_id = ctx.user_id();
    let owned: Vec<(i64, String)> = match businesses_for(ctx, Action::InviteStaff).await? {
        Ok(owned) => owned.into_iter().map(|b| (b.id, b.name)).collect(),
        Err(text) => {
            ctx.send(chat, text, None);
            return Ok(());
        }
    };
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
            let notice = Notice::StaffJoinedOwner {
                who: ctx.user.first_name.clone(),
                business: name,
            };
            let id = outbound::enqueue_template(ctx.conn, invited_by, notice).await?;
            if id != 0 {
                crate::store::users::record_mention(ctx.conn, id, user_id).await?;
            }
            super::publish_chat_commands(ctx.app, ctx.texts, user_id, super::STAFF_COMMANDS).await;
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
