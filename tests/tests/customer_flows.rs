//! The demand side end to end, through the Telegram fake against the real bot binary: browsing
//! and its filters, details, reserving (and losing the race for the last unit), cancelling,
//! pickup codes, favourites with alerts, ratings, settings and the refusals on the way.

use serde_json::Value;
use toogoodtogo_bot::config::Secret;
use toogoodtogo_bot::telegram::callback::CallbackCodec;
use toogoodtogo_tests::driver::TestUser;
use toogoodtogo_tests::harness::{TEST_SECRET_KEY, unique_user};
use toogoodtogo_tests::market::{Marketplace, Result, button, text};

const CENTER: (f64, f64) = (52.52, 13.405);
/// About 400 m from the center.
const NEAR: (f64, f64) = (52.521, 13.41);
/// About 20 km from the center.
const FAR: (f64, f64) = (52.70, 13.405);

fn codec() -> CallbackCodec {
    CallbackCodec::new(Secret::new(TEST_SECRET_KEY), None)
}

fn last(replies: &[Value]) -> Result<Value> {
    replies.last().cloned().ok_or_else(|| "no reply".into())
}

/// The 6-character pickup code in a confirmation.
fn pickup_code(confirmation: &str) -> Result<String> {
    let rest = confirmation
        .split("Pickup code: ")
        .nth(1)
        .ok_or_else(|| format!("no pickup code in {confirmation:?}"))?;
    Ok(rest.chars().take(6).collect())
}

/// A customer who has shared their location and sees the browse menu.
async fn customer_near(market: &mut Marketplace, name: &str) -> Result<(TestUser, Value)> {
    let customer = unique_user(name);
    market.share_location(&customer, CENTER.0, CENTER.1).await?;
    let menu = last(&market.say(&customer, "/browse").await?)?;
    Ok((customer, menu))
}

/// Walks a customer from the browse menu to the quantity selector of the first "All deals" hit.
async fn open_selector(
    market: &mut Marketplace,
    customer: &TestUser,
    menu: &Value,
) -> Result<Value> {
    market.press(customer, menu, "All deals").await?;
    market.press(customer, menu, "Reserve").await?;
    let selector = market.current(customer.id, menu);
    assert!(text(&selector).starts_with("Reserve 1 ×"), "{selector}");
    Ok(selector)
}

async fn offer_state(market: &Marketplace, offer_id: i64) -> Result<(String, i32)> {
    Ok(
        sqlx::query_as("SELECT state, units_available FROM offers WHERE id = $1")
            .bind(offer_id)
            .fetch_one(&market.stack.pool)
            .await?,
    )
}

#[tokio::test]
async fn a_customer_finds_a_deal_nearby_reserves_it_picks_it_up_and_rates_it() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Ada");
    let shop = market
        .seeded_business(&owner, "Bakery Ada", NEAR.0, NEAR.1)
        .await?;
    let offer = market
        .seeded_offer(shop, "Surprise bag", 5, -30, 120)
        .await?;
    let customer = unique_user("Carl");

    // "I'm a customer" leads to the filters; Nearby asks for the location once.
    market.say(&customer, "/start").await?;
    let replies = market.say(&customer, "🛒 I'm a customer").await?;
    let menu = last(&replies)?;
    assert!(text(&menu).contains("What are you looking for?"), "{menu}");
    let replies = market.press(&customer, &menu, "Nearby").await?;
    let ask = last(&replies)?;
    assert!(text(&ask).contains("I need your location"), "{ask}");
    assert_eq!(
        ask["reply_markup"]["keyboard"][0][0]["request_location"],
        Value::Bool(true),
        "the location button asks Telegram for the location"
    );
    let replies = market.share_location(&customer, CENTER.0, CENTER.1).await?;
    let page = last(&replies)?;
    let listing = text(&page);
    assert!(listing.starts_with("Deal 1 of 1"), "{listing}");
    assert!(listing.contains("Bakery Ada"), "{listing}");
    assert!(
        listing.contains("worth EUR 12.00, yours for EUR 4.50"),
        "{listing}"
    );
    assert!(listing.contains("5 left"), "{listing}");
    assert!(listing.contains("m away"), "distance shown: {listing}");

    // Details edit the same message: full address and a map link.
    let replies = market.press(&customer, &page, "Details").await?;
    assert!(replies.is_empty(), "details replace the result in place");
    let details = market.current_text(customer.id, &page);
    assert!(
        details.contains("📍 Main Street 12, 10115 Berlin"),
        "{details}"
    );
    assert!(
        details.contains("openstreetmap.org/?mlat=52.52100"),
        "{details}"
    );

    // Reserve: the selector steps up, the total follows, then one tap confirms.
    market.press(&customer, &page, "Reserve").await?;
    assert!(
        market
            .current_text(customer.id, &page)
            .starts_with("Reserve 1 × Surprise bag for EUR 4.50? Pay on site at pickup.")
    );
    market.press(&customer, &page, "➕").await?;
    assert!(
        market
            .current_text(customer.id, &page)
            .starts_with("Reserve 2 × Surprise bag for EUR 9.00?")
    );
    market.press(&customer, &page, "Reserve 2").await?;
    let confirmation = market.current_text(customer.id, &page);
    assert!(
        confirmation.starts_with("✅ Reserved! Order #"),
        "{confirmation}"
    );
    assert!(
        confirmation.contains("To pay at pickup: EUR 9.00"),
        "{confirmation}"
    );
    assert!(
        confirmation.contains("Bakery Ada, Main Street 12"),
        "{confirmation}"
    );
    let code = pickup_code(&confirmation)?;
    assert_eq!(offer_state(&market, offer).await?, ("ACTIVE".to_owned(), 3));

    // The shop hears of it through the outbound queue.
    let notice = market.wait_for_text(owner.id, "New reservation #").await?;
    assert!(
        text(&notice).contains("2 × Surprise bag for Carl"),
        "{notice}"
    );

    // /my_reservations shows the code with [Cancel].
    let replies = market.say(&customer, "/my_reservations").await?;
    let upcoming = last(&replies)?;
    assert!(text(&upcoming).contains(&code), "{upcoming}");
    assert!(button(&upcoming, "Cancel reservation").is_some());

    // The shop confirms the pickup by typing the code; the customer is asked to rate.
    let reply = market.ask(&owner, &code.to_lowercase()).await?;
    assert!(reply.contains("picked up"), "{reply}");
    assert!(reply.contains("Collect EUR 9.00"), "{reply}");
    let question = market
        .wait_for_text(customer.id, "How was Bakery Ada?")
        .await?;
    market.press(&customer, &question, "⭐⭐⭐⭐").await?;
    assert!(
        market
            .current_text(customer.id, &question)
            .starts_with("⭐⭐⭐⭐ Thank you!")
    );
    let reply = market.ask(&customer, "Lovely bread").await?;
    assert!(reply.contains("comment is saved"), "{reply}");
    let (stars, comment): (i16, Option<String>) =
        sqlx::query_as("SELECT stars, comment FROM ratings")
            .fetch_one(&market.stack.pool)
            .await?;
    assert_eq!((stars, comment.as_deref()), (4, Some("Lovely bread")));

    // Rated once only; the card now shows the rating.
    let data = button(&question, "⭐⭐⭐⭐⭐").ok_or("no five-star button")?;
    market.press_data(&customer, &question, &data).await?;
    assert!(market.last_callback_answer().contains("already rated"));
    let menu = last(&market.say(&customer, "/browse").await?)?;
    market.press(&customer, &menu, "All deals").await?;
    let card = market.current_text(customer.id, &menu);
    assert!(card.contains("Bakery Ada · ⭐ 4.0 (1)"), "{card}");

    // A second pickup with the same code is refused as done.
    let reply = market.ask(&owner, &code).await?;
    assert!(reply.contains("already picked up"), "{reply}");
    Ok(())
}

#[tokio::test]
async fn the_loser_of_the_race_for_the_last_unit_is_told_and_the_card_refreshes() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Ada");
    let shop = market
        .seeded_business(&owner, "Bakery Ada", NEAR.0, NEAR.1)
        .await?;
    let offer = market.seeded_offer(shop, "Last bag", 1, -30, 120).await?;
    let (first, first_menu) = customer_near(&mut market, "First").await?;
    let (second, second_menu) = customer_near(&mut market, "Second").await?;
    let first_selector = open_selector(&mut market, &first, &first_menu).await?;
    let second_selector = open_selector(&mut market, &second, &second_menu).await?;

    market.press(&first, &first_selector, "Reserve 1").await?;
    assert!(
        market
            .current_text(first.id, &first_selector)
            .starts_with("✅ Reserved!")
    );
    market.press(&second, &second_selector, "Reserve 1").await?;
    assert_eq!(
        market.last_callback_answer(),
        "That was the last unit and someone just reserved it."
    );
    let refreshed = market.current(second.id, &second_selector);
    assert!(text(&refreshed).contains("Sold out"), "{refreshed}");
    assert!(
        button(&refreshed, "Reserve").is_none(),
        "no Reserve on a sold-out deal"
    );
    assert_eq!(
        offer_state(&market, offer).await?,
        ("SOLD_OUT".to_owned(), 0)
    );
    let reservations: i64 = sqlx::query_scalar("SELECT count(*) FROM reservations")
        .fetch_one(&market.stack.pool)
        .await?;
    assert_eq!(reservations, 1);
    Ok(())
}

#[tokio::test]
async fn cancelling_asks_first_returns_the_units_and_tells_the_shop() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Ada");
    let shop = market
        .seeded_business(&owner, "Bakery Ada", NEAR.0, NEAR.1)
        .await?;
    let offer = market.seeded_offer(shop, "Last bag", 1, 60, 180).await?;
    let (customer, menu) = customer_near(&mut market, "Carl").await?;
    let selector = open_selector(&mut market, &customer, &menu).await?;
    market.press(&customer, &selector, "Reserve 1").await?;
    assert_eq!(
        offer_state(&market, offer).await?,
        ("SOLD_OUT".to_owned(), 0)
    );

    let upcoming = last(&market.say(&customer, "/my_reservations").await?)?;
    market
        .press(&customer, &upcoming, "Cancel reservation")
        .await?;
    let question = market.current_text(customer.id, &upcoming);
    assert!(question.starts_with("Cancel order #"), "{question}");
    market.press(&customer, &upcoming, "Yes, cancel it").await?;
    assert!(
        market
            .current_text(customer.id, &upcoming)
            .contains("is cancelled")
    );
    assert_eq!(
        offer_state(&market, offer).await?,
        ("ACTIVE".to_owned(), 1),
        "the unit is back and the deal live again"
    );
    market.wait_for_text(owner.id, "was cancelled").await?;

    // Replaying the confirmation does not return the unit twice.
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM reservations")
        .fetch_one(&market.stack.pool)
        .await?;
    let replay = codec().encode("rv_cancel_yes", &[id])?;
    market.press_data(&customer, &upcoming, &replay).await?;
    assert!(market.last_callback_answer().contains("already cancelled"));
    assert_eq!(offer_state(&market, offer).await?.1, 1);

    // Someone else cannot cancel it either.
    let stranger = unique_user("Mallory");
    let forged = codec().encode("rv_cancel", &[id])?;
    market.press_data(&stranger, &upcoming, &forged).await?;
    assert_eq!(
        market.last_callback_answer(),
        "That reservation isn't yours."
    );
    Ok(())
}

#[tokio::test]
async fn wrong_codes_and_codes_of_other_businesses_are_refused() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Ada");
    let other_owner = unique_user("Otto");
    let shop = market
        .seeded_business(&owner, "Bakery Ada", NEAR.0, NEAR.1)
        .await?;
    market
        .seeded_business(&other_owner, "Otto's Deli", NEAR.0, NEAR.1)
        .await?;
    let offer = market
        .seeded_offer(shop, "Surprise bag", 3, -30, 120)
        .await?;
    let (customer, menu) = customer_near(&mut market, "Carl").await?;
    let selector = open_selector(&mut market, &customer, &menu).await?;
    market.press(&customer, &selector, "Reserve 1").await?;
    let confirmation = market.current_text(customer.id, &selector);
    let code = pickup_code(&confirmation)?;
    market.wait_for_text(owner.id, "New reservation").await?;

    let reply = market.ask(&other_owner, &format!("/pickup {code}")).await?;
    assert!(reply.contains("No reservation of your business"), "{reply}");
    let reply = market.ask(&owner, "/pickup ZZZ222").await?;
    assert!(
        reply.contains("No reservation of your business has the pickup code ZZZ222"),
        "{reply}"
    );
    let reply = market.ask(&owner, "/pickup").await?;
    assert!(
        reply.contains("Send me the customer's pickup code"),
        "{reply}"
    );
    let (state,): (String,) = sqlx::query_as("SELECT state FROM reservations")
        .fetch_one(&market.stack.pool)
        .await?;
    assert_eq!(state, "CONFIRMED");

    // The whole confirmation, forwarded, works; so does the list in /myoffers.
    let reply = market.ask(&owner, &confirmation).await?;
    assert!(reply.contains("picked up"), "{reply}");
    let replies = market.say(&owner, "/myoffers").await?;
    let card = replies
        .iter()
        .find(|m| text(m).contains("Surprise bag"))
        .cloned()
        .ok_or("offer not listed")?;
    let replies = market.press(&owner, &card, "Reservations").await?;
    let list = last(&replies)?;
    assert!(text(&list).contains("1 × for Carl — picked up"), "{list}");
    assert!(
        button(&list, "picked up").is_none(),
        "nothing left to confirm"
    );

    // Another business's member cannot open that list.
    let forged = codec().encode("pk_list", &[offer])?;
    market.press_data(&other_owner, &card, &forged).await?;
    assert_eq!(
        market.last_callback_answer(),
        "That isn't one of your deals."
    );
    Ok(())
}

#[tokio::test]
async fn browsing_shows_only_reservable_deals_pages_them_and_says_when_there_are_none() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Ada");
    let near = market
        .seeded_business(&owner, "Bakery Ada", NEAR.0, NEAR.1)
        .await?;
    let far = market
        .seeded_business(&unique_user("Fay"), "Far Farm", FAR.0, FAR.1)
        .await?;
    market.seeded_offer(near, "Soon bag", 3, -30, 60).await?;
    market.seeded_offer(near, "Late bag", 3, -30, 600).await?;
    market.seeded_offer(far, "Farm box", 3, -30, 300).await?;
    let paused = market.seeded_offer(near, "Paused bag", 3, -30, 300).await?;
    sqlx::query("UPDATE offers SET state = 'PAUSED' WHERE id = $1")
        .bind(paused)
        .execute(&market.stack.pool)
        .await?;
    let ended = market.seeded_offer(near, "Ended bag", 3, -120, -1).await?;

    let (customer, menu) = customer_near(&mut market, "Carl").await?;
    market.press(&customer, &menu, "Nearby").await?;
    let first = market.current_text(customer.id, &menu);
    assert!(first.starts_with("Deal 1 of 2"), "{first}");
    assert!(
        first.contains("Soon bag"),
        "the window ending first comes first: {first}"
    );
    market.press(&customer, &menu, "Next").await?;
    assert!(market.current_text(customer.id, &menu).contains("Late bag"));
    assert!(button(&market.current(customer.id, &menu), "Next").is_none());
    market.press(&customer, &menu, "Prev").await?;
    assert!(market.current_text(customer.id, &menu).contains("Soon bag"));
    market.press(&customer, &menu, "Back to filters").await?;
    market.press(&customer, &menu, "All deals").await?;
    assert!(
        market
            .current_text(customer.id, &menu)
            .starts_with("Deal 1 of 3")
    );
    market.press(&customer, &menu, "Back to filters").await?;
    market.press(&customer, &menu, "Ending soon").await?;
    let soon = market.current_text(customer.id, &menu);
    assert!(
        soon.starts_with("Deal 1 of 1") && soon.contains("Soon bag"),
        "{soon}"
    );

    // A wider radius in /settings reaches the farm.
    let settings = last(&market.say(&customer, "/settings").await?)?;
    market.press(&customer, &settings, "Nearby radius").await?;
    market.press(&customer, &settings, "25 km").await?;
    assert!(
        market
            .current_text(customer.id, &settings)
            .contains("Nearby radius: 25 km")
    );
    let menu = last(&market.say(&customer, "/browse").await?)?;
    market
        .press(&customer, &menu, "Nearby (within 25 km)")
        .await?;
    assert!(
        market
            .current_text(customer.id, &menu)
            .starts_with("Deal 1 of 3")
    );

    // Deep links open details; a paused or ended deal says why and cannot be reserved.
    let details = last(
        &market
            .say(&customer, &format!("/start offer_{paused}"))
            .await?,
    )?;
    assert!(text(&details).contains("paused this deal"), "{details}");
    assert!(button(&details, "Reserve").is_none());
    let details = last(
        &market
            .say(&customer, &format!("/start offer_{ended}"))
            .await?,
    )?;
    assert!(
        text(&details).contains("pickup window has ended"),
        "{details}"
    );
    let details = last(&market.say(&customer, "/start offer_999999").await?)?;
    assert!(text(&details).contains("not available"), "{details}");

    // Far from everything: an empty result says so and suggests what to do.
    let loner = unique_user("Lone");
    let replies = market.share_location(&loner, 48.137, 11.575).await?;
    let empty = last(&replies)?;
    assert!(text(&empty).contains("No deals within 5 km"), "{empty}");
    assert!(text(&empty).contains("/favourites"), "{empty}");
    Ok(())
}

#[tokio::test]
async fn the_selector_respects_stock_and_the_per_customer_cap_and_shops_cannot_buy_their_own()
-> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Ada");
    let shop = market
        .seeded_business(&owner, "Bakery Ada", NEAR.0, NEAR.1)
        .await?;
    let offer = market.seeded_offer(shop, "Big bag", 10, -30, 120).await?;
    let (customer, menu) = customer_near(&mut market, "Carl").await?;
    let selector = open_selector(&mut market, &customer, &menu).await?;
    for _ in 0..6 {
        if button(&market.current(customer.id, &selector), "➕").is_some() {
            market.press(&customer, &selector, "➕").await?;
        }
    }
    let at_cap = market.current(customer.id, &selector);
    assert!(text(&at_cap).starts_with("Reserve 5 ×"), "{at_cap}");
    assert!(
        button(&at_cap, "➕").is_none(),
        "the selector stops at the cap"
    );

    let forged = codec().encode("rs_ok", &[offer, 6])?;
    market.press_data(&customer, &selector, &forged).await?;
    assert_eq!(
        market.last_callback_answer(),
        "You can hold at most 5 units of one deal."
    );
    assert_eq!(offer_state(&market, offer).await?.1, 10, "nothing reserved");

    let own = codec().encode("rs_ok", &[offer, 1])?;
    market.press_data(&owner, &selector, &own).await?;
    assert!(market.last_callback_answer().contains("your own business"));

    // The refusal showed the deal again; from there five units can be reserved.
    assert!(button(&market.current(customer.id, &selector), "Reserve").is_some());
    let five = codec().encode("rs_ok", &[offer, 5])?;
    market.press_data(&customer, &selector, &five).await?;
    assert_eq!(offer_state(&market, offer).await?.1, 5);

    // Rating before a pickup is refused.
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM reservations")
        .fetch_one(&market.stack.pool)
        .await?;
    let early = codec().encode("rt_stars", &[id, 5])?;
    market.press_data(&customer, &selector, &early).await?;
    assert!(
        market
            .last_callback_answer()
            .contains("once you've picked up")
    );
    Ok(())
}

#[tokio::test]
async fn a_new_deal_alerts_each_follower_once_respecting_alerts_off_and_quiet_hours() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Ada");
    let shop = market.approved_business(&owner, "Bakery Ada").await?;
    let first = market.seeded_offer(shop, "First bag", 3, -30, 120).await?;
    let follower = unique_user("Fan");
    let muted = unique_user("Muted");
    let sleeper = unique_user("Sleeper");
    let stranger = unique_user("Stranger");
    for user in [&follower, &muted, &sleeper] {
        let details = last(&market.say(user, &format!("/start offer_{first}")).await?)?;
        market.press(user, &details, "Add to favourites").await?;
        assert!(button(&market.current(user.id, &details), "Remove from favourites").is_some());
    }
    market.say(&stranger, "/start").await?;
    let settings = last(&market.say(&muted, "/settings").await?)?;
    market.press(&muted, &settings, "Turn alerts off").await?;
    assert!(
        market
            .current_text(muted.id, &settings)
            .contains("Alerts from favourites: off")
    );
    // Quiet hours around now, whatever the time of day.
    sqlx::query(
        "INSERT INTO customer_settings (user_id, quiet_start_minute, quiet_end_minute)
         SELECT $1, (m + 1380) % 1440, (m + 60) % 1440
         FROM (SELECT (extract(hour FROM now() AT TIME ZONE 'Europe/Berlin') * 60
                      + extract(minute FROM now() AT TIME ZONE 'Europe/Berlin'))::int AS m) t",
    )
    .bind(sleeper.id)
    .execute(&market.stack.pool)
    .await?;
    let listed = last(&market.say(&follower, "/favourites").await?)?;
    assert!(text(&listed).contains("Bakery Ada"), "{listed}");

    market.publish_deal(&owner, "Fresh bag").await?;
    let alert = market
        .wait_for_text(follower.id, "Bakery Ada just posted a deal")
        .await?;
    assert!(text(&alert).contains("Fresh bag"), "{alert}");
    // The sender had time for everything due: still one alert each, none for the others.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(market.count_messages(follower.id, "just posted a deal"), 1);
    assert_eq!(market.count_messages(muted.id, "just posted a deal"), 0);
    assert_eq!(market.count_messages(stranger.id, "just posted a deal"), 0);
    assert_eq!(market.count_messages(sleeper.id, "just posted a deal"), 0);
    let waiting: bool = sqlx::query_scalar(
        "SELECT not_before > now() + interval '30 minutes' FROM outbound_messages
         WHERE chat_id = $1 AND status = 'pending'",
    )
    .bind(sleeper.id)
    .fetch_one(&market.stack.pool)
    .await?;
    assert!(
        waiting,
        "the sleeper's alert waits for the end of the quiet hours"
    );

    // The alert's button opens the deal.
    market.press(&follower, &alert, "View deal").await?;
    let replies = market.stack.fake.transcript(follower.id);
    assert!(
        replies
            .iter()
            .any(|m| text(m).contains("Fresh bag") && button(m, "Reserve").is_some()),
        "the deal's details with Reserve"
    );

    // Removing a favourite from the list.
    let listed = last(&market.say(&follower, "/favourites").await?)?;
    market
        .press(&follower, &listed, "Remove Bakery Ada")
        .await?;
    assert!(
        market
            .current_text(follower.id, &listed)
            .contains("No favourites yet")
    );
    Ok(())
}

#[tokio::test]
async fn settings_show_a_section_per_role_and_owners_edit_their_business() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Ada");
    let shop = market.approved_business(&owner, "Bakery Ada").await?;

    let settings = last(&market.say(&owner, "/settings").await?)?;
    let shown = text(&settings);
    assert!(shown.contains("🛒 As a customer"), "{shown}");
    assert!(
        shown.contains("Bakery Ada — Main Street 12, Berlin (owner, approved)"),
        "{shown}"
    );
    assert!(
        !shown.contains("Admin"),
        "no admin surface for non-admins: {shown}"
    );
    let admin = market.admin.clone();
    // The admin also hears of the application meanwhile: pick the settings out of the replies.
    let replies = market.say(&admin, "/settings").await?;
    let admin_settings = replies
        .iter()
        .find(|m| text(m).starts_with("⚙️ Settings"))
        .ok_or("no settings for the admin")?;
    assert!(
        text(admin_settings).contains("/pending"),
        "{admin_settings}"
    );

    // Quiet hours from the presets.
    market.press(&owner, &settings, "Quiet hours").await?;
    market.press(&owner, &settings, "22:00–07:00").await?;
    assert!(
        market
            .current_text(owner.id, &settings)
            .contains("Quiet hours: 22:00–07:00")
    );

    // How customers pay: at the counter by default, changed here.
    market
        .press(&owner, &settings, "payment at the counter")
        .await?;
    let question = market.current_text(owner.id, &settings);
    assert!(
        question.contains("not set up on this bot yet"),
        "{question}"
    );
    market
        .press(&owner, &settings, "in the chat or at the counter")
        .await?;
    let mode: String = sqlx::query_scalar("SELECT payment_mode FROM businesses WHERE id = $1")
        .bind(shop)
        .fetch_one(&market.stack.pool)
        .await?;
    assert_eq!(mode, "both");
    market.press(&owner, &settings, "Back to settings").await?;

    // Editing the business: one field, validated like registration; the phone applies at once
    // (name, address, location and logo wait for an admin: tests/tests/identity_review.rs).
    market.press(&owner, &settings, "Edit Bakery Ada").await?;
    market.press(&owner, &settings, "Phone").await?;
    let reply = market.ask(&owner, "P").await?;
    assert!(reply.starts_with("⚠️ Phone:"), "{reply}");
    let reply = market.ask(&owner, "+49 30 7654321").await?;
    assert!(reply.contains("Saved"), "{reply}");
    let phone: Option<String> = sqlx::query_scalar("SELECT phone FROM businesses WHERE id = $1")
        .bind(shop)
        .fetch_one(&market.stack.pool)
        .await?;
    assert_eq!(phone.as_deref(), Some("+49307654321"));

    // Nobody else can.
    let mallory = unique_user("Mallory");
    let forged = codec().encode("bz_edit", &[shop])?;
    market.press_data(&mallory, &settings, &forged).await?;
    assert!(
        !market.last_callback_answer().is_empty(),
        "refused with a notice"
    );
    let forged = codec().encode("bz_field", &[shop, 2])?;
    market.press_data(&mallory, &settings, &forged).await?;
    let reply = market.ask(&mallory, "Mallorca").await?;
    assert!(!reply.contains("Saved"), "{reply}");
    let city: String = sqlx::query_scalar("SELECT city FROM businesses WHERE id = $1")
        .bind(shop)
        .fetch_one(&market.stack.pool)
        .await?;
    assert_eq!(city, "Berlin");
    Ok(())
}
