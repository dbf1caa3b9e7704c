//! Re-review of identity changes end to end, through the Telegram fake against the real bot
//! binary: an approved business's new name or address waits for an admin (old → new) while the
//! listing keeps the approved values; a rejection reaches the owner with its reason; the phone
//! changes at once.

use serde_json::Value;
use toogoodtogo_tests::driver::TestUser;
use toogoodtogo_tests::harness::unique_user;
use toogoodtogo_tests::market::{Marketplace, Result, button, text};

/// Opens the business's field menu from /settings and chooses `field`; returns the prompt.
async fn edit(market: &mut Marketplace, owner: &TestUser, field: &str) -> Result<String> {
    let replies = market.say(owner, "/settings").await?;
    let settings = replies
        .iter()
        .find(|m| button(m, "Edit Bakery Ada").is_some())
        .cloned()
        .ok_or("no edit button")?;
    market.press(owner, &settings, "Edit Bakery Ada").await?;
    let replies = market.press(owner, &settings, field).await?;
    Ok(replies
        .last()
        .map(|m| text(m).to_owned())
        .unwrap_or_default())
}

async fn listing(market: &Marketplace, business_id: i64) -> Result<(String, String)> {
    Ok(
        sqlx::query_as("SELECT name, street FROM businesses WHERE id = $1")
            .bind(business_id)
            .fetch_one(&market.stack.pool)
            .await?,
    )
}

#[tokio::test]
async fn identity_changes_wait_for_an_admin_and_the_phone_applies_at_once() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Ada");
    let admin = market.admin.clone();
    let business_id = market.approved_business(&owner, "Bakery Ada").await?;

    // A new name is sent for review; the listing keeps the approved one.
    assert!(
        edit(&mut market, &owner, "Business name")
            .await?
            .starts_with("What is your business called?")
    );
    let reply = market.ask(&owner, "Official McDonald's").await?;
    assert!(reply.starts_with("📝 Sent for review"), "{reply}");
    assert_eq!(listing(&market, business_id).await?.0, "Bakery Ada");
    let request: Value = market
        .wait_for_text(admin.id, "asks to change its listing")
        .await?;
    assert!(
        text(&request)
            .contains("asks to change its listing:\nName: Bakery Ada → Official McDonald's"),
        "{request}"
    );

    // Rejected with a reason: the owner is told, nothing changes.
    let replies = market.press(&admin, &request, "Reject change").await?;
    assert!(text(replies.last().ok_or("no question")?).starts_with("Why is the change rejected?"));
    assert!(
        market
            .ask(&admin, "This is not your brand.")
            .await?
            .starts_with("❌ Change rejected")
    );
    market
        .wait_for_text(
            owner.id,
            "Your change to Bakery Ada was not accepted.\nReason: This is not your brand.",
        )
        .await?;
    assert_eq!(listing(&market, business_id).await?.0, "Bakery Ada");
    market.press(&admin, &request, "Accept change").await?;
    assert_eq!(
        market.last_callback_answer(),
        "This change was already decided."
    );
    assert_eq!(listing(&market, business_id).await?.0, "Bakery Ada");

    // The phone applies at once.
    edit(&mut market, &owner, "Phone").await?;
    let reply = market.ask(&owner, "+49 30 7654321").await?;
    assert!(
        reply.starts_with("✅ Saved. Customers see the change at once."),
        "{reply}"
    );
    let phone: Option<String> = sqlx::query_scalar("SELECT phone FROM businesses WHERE id = $1")
        .bind(business_id)
        .fetch_one(&market.stack.pool)
        .await?;
    assert_eq!(phone.as_deref(), Some("+49307654321"));

    // A new address, accepted from /pending: it goes live and the owner is told.
    edit(&mut market, &owner, "Street and number").await?;
    assert!(
        market
            .ask(&owner, "Side Street 5")
            .await?
            .starts_with("📝 Sent for review")
    );
    assert_eq!(listing(&market, business_id).await?.1, "Main Street 12");
    let replies = market.say(&owner, "/settings").await?;
    let settings = replies
        .iter()
        .find(|m| button(m, "Edit Bakery Ada").is_some())
        .cloned()
        .ok_or("no edit button")?;
    market.press(&owner, &settings, "Edit Bakery Ada").await?;
    let menu = market.current_text(owner.id, &settings);
    assert!(
        menu.contains("⏳ Waiting for an admin: Bakery Ada, Side Street 5, 10115 Berlin."),
        "{menu}"
    );
    let pending = market.say(&admin, "/pending").await?;
    let change = pending
        .iter()
        .find(|m| {
            text(m).contains("Address: Main Street 12, 10115 Berlin → Side Street 5, 10115 Berlin")
        })
        .cloned()
        .ok_or_else(|| format!("no change in /pending: {pending:?}"))?;
    market.press(&admin, &change, "Accept change").await?;
    market
        .wait_for_text(owner.id, "Your change was accepted")
        .await?;
    assert_eq!(
        listing(&market, business_id).await?,
        ("Bakery Ada".to_owned(), "Side Street 5".to_owned())
    );
    assert_eq!(
        market
            .audited("business.identity_change_accepted", business_id)
            .await?,
        1
    );
    Ok(())
}
