//! A message the outbound queue holds back is written in the language its recipient has when it
//! goes out: a business owner who changes their language in /settings while Telegram makes the
//! bot wait reads the approval in the new language, buttons included.

use std::time::Duration;

use serde_json::{Value, json};
use toogoodtogo_tests::driver::TestUser;
use toogoodtogo_tests::harness::unique_user;
use toogoodtogo_tests::market::{Marketplace, Result, button, text};
use toogoodtogo_tests::telegram_fake::Injected;

const WAIT: Duration = Duration::from_secs(15);
/// How long Telegram makes the bot wait for the owner's chat: long enough to change the
/// language meanwhile.
const FLOOD_WAIT_S: u32 = 8;

/// Switches the user's language in /settings by pressing the language button, then `choice`.
async fn choose_language(
    market: &mut Marketplace,
    user: &TestUser,
    language_button: &str,
    choice: &str,
) -> Result {
    let settings = market
        .say(user, "/settings")
        .await?
        .last()
        .cloned()
        .ok_or("no settings screen")?;
    market.press(user, &settings, language_button).await?;
    market.press(user, &settings, choice).await?;
    Ok(())
}

/// Registers a business for `owner`, makes Telegram refuse the next message to the owner with
/// flood control, and has the admin approve it. Returns the text of the refused attempt: the
/// approval as it read when it was first tried.
async fn approval_held_back(
    market: &mut Marketplace,
    owner: &TestUser,
    name: &str,
) -> Result<String> {
    let to_owner = |market: &Marketplace| {
        market
            .stack
            .fake
            .calls_of("sendMessage")
            .into_iter()
            .filter(|c| c.params["chat_id"] == json!(owner.id))
            .collect::<Vec<_>>()
    };
    let earlier = to_owner(market).len();
    market.stack.fake.inject(
        "sendMessage",
        Some(owner.id),
        Injected::RetryAfter(FLOOD_WAIT_S),
    );
    let admin = market.admin.clone();
    let pending = market.say(&admin, "/pending").await?;
    let application = pending
        .iter()
        .find(|m| text(m).contains(name))
        .cloned()
        .ok_or_else(|| format!("{name} is not pending: {pending:?}"))?;
    market.press(&admin, &application, "Approve").await?;
    let refused = market
        .stack
        .fake
        .wait_until(WAIT, || to_owner(market).into_iter().nth(earlier))
        .await
        .map_err(|()| "the approval was never tried")?;
    Ok(refused.params["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

fn approval(messages: &[Value]) -> Option<Value> {
    messages
        .iter()
        .rev()
        .find(|m| text(m).starts_with('🎉'))
        .cloned()
}

#[tokio::test]
async fn an_approval_queued_in_german_arrives_in_english_after_the_owner_switches() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Lena");
    market.register(&owner, "Lena's Bakery").await?;
    choose_language(&mut market, &owner, "🌐 Language", "Deutsch").await?;

    let first_try = approval_held_back(&mut market, &owner, "Lena's Bakery").await?;
    assert!(
        first_try.starts_with("🎉 Lena's Bakery ist freigegeben!"),
        "queued while the owner read German: {first_try}"
    );
    choose_language(&mut market, &owner, "🌐 Sprache", "English").await?;

    let notice = market.wait_for_text(owner.id, "was approved").await?;
    assert!(
        text(&notice).starts_with("🎉 Lena's Bakery was approved! You can post your first deal"),
        "{notice}"
    );
    assert!(
        button(&notice, "➕ Post a deal now").is_some(),
        "the button reads English too: {notice}"
    );
    let transcript = market.stack.fake.transcript(owner.id);
    assert!(
        transcript
            .iter()
            .all(|m| !text(m).contains("ist freigegeben")),
        "no German approval was delivered: {transcript:?}"
    );
    assert_eq!(approval(&transcript).as_ref(), Some(&notice));
    market.assert_rendered(owner.id)
}

#[tokio::test]
async fn an_approval_queued_in_english_arrives_in_german_after_the_owner_switches() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Jonas");
    market.register(&owner, "Jonas Deli").await?;

    let first_try = approval_held_back(&mut market, &owner, "Jonas Deli").await?;
    assert!(
        first_try.starts_with("🎉 Jonas Deli was approved!"),
        "queued while the owner read English: {first_try}"
    );
    choose_language(&mut market, &owner, "🌐 Language", "Deutsch").await?;

    let notice = market.wait_for_text(owner.id, "ist freigegeben").await?;
    assert!(
        text(&notice).starts_with("🎉 Jonas Deli ist freigegeben! Du kannst jetzt"),
        "{notice}"
    );
    assert!(
        button(&notice, "➕ Jetzt Angebot einstellen").is_some(),
        "the button reads German too: {notice}"
    );
    let transcript = market.stack.fake.transcript(owner.id);
    assert!(
        transcript.iter().all(|m| !text(m).contains("was approved")),
        "no English approval was delivered: {transcript:?}"
    );
    market.assert_rendered(owner.id)
}
