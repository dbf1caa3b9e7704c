//! The supply side end to end, through the Telegram fake against the real bot binary:
//! registration, admin approval, posting a deal and its life cycle, staff, suspension, and the
//! refusals on the way.

use toogoodtogo_bot::config::Secret;
use toogoodtogo_bot::telegram::callback::CallbackCodec;
use toogoodtogo_tests::harness::{BotProcess, TEST_SECRET_KEY, unique_user};
use toogoodtogo_tests::market::{Marketplace, Result, WAIT, text};

#[tokio::test]
async fn a_shop_goes_from_start_to_a_live_deal_and_manages_it() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Ada");

    // "I'm a business" starts the registration; /back returns to the previous question.
    market.say(&owner, "/start").await?;
    let replies = market.say(&owner, "🏪 I'm a business").await?;
    assert!(text(&replies[1]).starts_with("What is your business called?"));
    market.ask(&owner, "Bakery Ada").await?;
    assert_eq!(
        market.ask(&owner, "/back").await?,
        "What is your business called? For example: Bakery Ada"
    );
    market.ask(&owner, "Bakery Ada").await?;
    market.ask(&owner, "Main Street 12").await?;
    market.ask(&owner, "Berlin").await?;
    market.ask(&owner, "10115").await?;
    assert!(
        market
            .ask(&owner, "+49 30 1234567")
            .await?
            .starts_with("Send your logo")
    );
    let update = market.stack.updates.photo(&owner, "logo-file-1");
    let replies = market.post(&owner, update).await?;
    let location_prompt = replies.last().cloned().ok_or("no location prompt")?;
    assert_eq!(
        location_prompt["reply_markup"]["keyboard"][0][0]["request_location"], true,
        "one tap shares the location"
    );
    let update = market.stack.updates.location(&owner, 52.52, 13.405);
    let summary = market
        .post(&owner, update)
        .await?
        .pop()
        .ok_or("no summary")?;
    assert!(
        text(&summary).contains("Address: Main Street 12, 10115 Berlin"),
        "{summary}"
    );
    assert!(text(&summary).contains("Phone: +49301234567"));
    let again = market.say(&owner, "is this ok?").await?;
    assert!(text(again.last().ok_or("no summary")?).starts_with("Please check your business"));
    market
        .press(&owner, &summary, "Submit for approval")
        .await?;

    // The admin is notified through the outbound queue and decides from /pending.
    let business_id = market.business_id("Bakery Ada").await?;
    let admin = market.admin.clone();
    market
        .wait_for_text(admin.id, "New business application")
        .await?;
    let pending = market.say(&admin, "/pending").await?;
    assert_eq!(pending.len(), 1);
    assert!(text(&pending[0]).contains("Bakery Ada"));
    market.press(&admin, &pending[0], "Approve").await?;
    assert!(text(&market.current(admin.id, &pending[0])).starts_with("✅ Approved"));
    assert_eq!(market.audited("business.approved", business_id).await?, 1);

    // The business hears back with [Post a deal now]; the menu shows the business commands.
    let approval = market.wait_for_text(owner.id, "was approved").await?;
    let scoped = market.stack.fake.calls_of("setMyCommands");
    assert!(
        scoped
            .iter()
            .any(|c| c.params["scope"]["chat_id"] == owner.id),
        "business commands in the owner's chat scope: {scoped:?}"
    );
    assert_eq!(
        market.stack.fake.menu_button(),
        Some(serde_json::json!({ "type": "commands" })),
        "the menu button opens the commands"
    );
    let replies = market.press(&owner, &approval, "Post a deal now").await?;
    assert!(text(&replies[0]).contains("What kind of food"));
    market.ask(&owner, "/cancel").await?;

    let (offer_id, published) = market.publish_deal(&owner, "Surprise bag").await?;
    let card = text(&published);
    assert!(card.contains("Surprise bag"));
    assert!(
        card.contains("worth EUR 12.00, yours for EUR 4.50"),
        "{card}"
    );
    assert!(card.contains("Pickup tomorrow 18:00–20:00"), "{card}");
    assert!(card.contains("5 left"));
    assert_eq!(
        market.offer_state(offer_id).await?,
        ("ACTIVE".to_owned(), 5)
    );
    assert_eq!(market.audited("offer.published", offer_id).await?, 1);

    let shared = market.press(&owner, &published, "Share link").await?;
    assert!(
        text(&shared[0]).contains(&format!(
            "https://t.me/TooGoodToGoTestBot?start=offer_{offer_id}"
        )),
        "{shared:?}"
    );
    let viewed = market.press(&owner, &published, "View as customer").await?;
    assert!(text(&viewed[0]).contains("Surprise bag"));

    // Manage: pause, resume, edit units down to zero and back, then end now with confirmation.
    market.press(&owner, &published, "Manage").await?;
    market.press(&owner, &published, "Pause").await?;
    assert_eq!(market.offer_state(offer_id).await?.0, "PAUSED");
    assert!(text(&market.current(owner.id, &published)).contains("Paused"));
    market.press(&owner, &published, "Resume").await?;
    assert_eq!(market.offer_state(offer_id).await?.0, "ACTIVE");

    market.press(&owner, &published, "Edit").await?;
    market.press(&owner, &published, "Units").await?;
    let updated = market.say(&owner, "0").await?;
    assert!(text(&updated[0]).contains("Sold out"), "{updated:?}");
    assert_eq!(
        market.offer_state(offer_id).await?,
        ("SOLD_OUT".to_owned(), 0)
    );
    market.press(&owner, &updated[0], "Edit").await?;
    market.press(&owner, &updated[0], "Price").await?;
    assert!(
        market
            .ask(&owner, "13")
            .await?
            .contains("price must be lower than the original value")
    );
    market.ask(&owner, "3.99").await?;
    let listed = market.say(&owner, "/myoffers").await?;
    assert!(text(&listed[0]).contains("EUR 3.99"), "{listed:?}");
    market.press(&owner, &listed[0], "Edit").await?;
    market.press(&owner, &listed[0], "Units").await?;
    market.ask(&owner, "4").await?;
    assert_eq!(
        market.offer_state(offer_id).await?,
        ("ACTIVE".to_owned(), 4)
    );

    let listed = market.say(&owner, "/myoffers").await?;
    market.press(&owner, &listed[0], "End now").await?;
    assert!(text(&market.current(owner.id, &listed[0])).starts_with("End “Surprise bag” now?"));
    assert_eq!(
        market.offer_state(offer_id).await?.0,
        "ACTIVE",
        "asks first"
    );
    market.press(&owner, &listed[0], "Yes, end it").await?;
    assert_eq!(market.offer_state(offer_id).await?.0, "EXPIRED_EARLY");
    let ended = market.current(owner.id, &listed[0]);
    assert!(text(&ended).contains("Ended early"));
    assert!(
        ended.get("reply_markup").is_none(),
        "an ended deal has no buttons"
    );

    for action in [
        "offer.paused",
        "offer.resumed",
        "offer.edited",
        "offer.ended_early",
    ] {
        assert!(
            market.audited(action, offer_id).await? >= 1,
            "{action} audited"
        );
    }
    Ok(())
}

#[tokio::test]
async fn every_wrong_answer_names_the_field_with_an_example() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Bo");

    market.say(&owner, "/register_business").await?;
    assert_eq!(
        market.ask(&owner, "X").await?,
        "⚠️ Business name: must be 2 to 80 characters long.\nFor example: Bakery Ada"
    );
    market.ask(&owner, "Bo's Deli").await?;
    assert_eq!(
        market.ask(&owner, "Main Street").await?,
        "⚠️ Street and number: needs the street name and the house number.\nFor example: Main Street 12"
    );
    market.ask(&owner, "Main Street 3").await?;
    assert!(market.ask(&owner, "12345").await?.starts_with("⚠️ City:"));
    market.ask(&owner, "Berlin").await?;
    assert!(
        market
            .ask(&owner, "Berlin")
            .await?
            .starts_with("⚠️ Postal code:")
    );
    market.ask(&owner, "10115").await?;
    assert!(
        market
            .ask(&owner, "call me")
            .await?
            .starts_with("⚠️ Phone:")
    );
    market.ask(&owner, "Skip").await?;
    assert!(market.ask(&owner, "a logo").await?.starts_with("⚠️ Logo:"));
    market.ask(&owner, "Skip").await?;
    assert!(
        market
            .ask(&owner, "Berlin Mitte")
            .await?
            .starts_with("⚠️ Location:")
    );
    let update = market.stack.updates.location(&owner, 52.5, 13.4);
    let summary = market
        .post(&owner, update)
        .await?
        .pop()
        .ok_or("no summary")?;
    market.press(&owner, &summary, "Submit").await?;
    sqlx::query("UPDATE businesses SET status = 'approved'")
        .execute(&market.stack.pool)
        .await?;

    market.say(&owner, "/newdeal").await?;
    assert!(
        market
            .ask(&owner, "cake")
            .await?
            .starts_with("⚠️ Category: must be one of the buttons")
    );
    market.ask(&owner, "Bakery").await?;
    assert!(
        market
            .ask(&owner, "ab")
            .await?
            .starts_with("⚠️ Title: must be 3 to 60")
    );
    market.ask(&owner, "Surprise bag").await?;
    assert!(
        market
            .ask(&owner, &"x".repeat(201))
            .await?
            .starts_with("⚠️ Description: must be 1 to 200")
    );
    market.ask(&owner, "Bread").await?;
    market.ask(&owner, "/skip").await?;
    for (window, problem) in [
        ("evening", "must be a day and a time range"),
        ("tomorrow 20:00-18:00", "must end after it starts"),
        ("2020-01-01 18:00-20:00", "has already ended"),
        (
            "2099-01-01 18:00-20:00",
            "may end at most 48 hours from now",
        ),
    ] {
        let reply = market.ask(&owner, window).await?;
        assert!(
            reply.starts_with(&format!("⚠️ Pickup window: {problem}")),
            "{window}: {reply}"
        );
        assert!(reply.ends_with("For example: today 18:00-20:00"));
    }
    market.ask(&owner, "tomorrow 9-11").await?;
    assert!(
        market
            .ask(&owner, "0")
            .await?
            .starts_with("⚠️ Units: must be more than zero")
    );
    assert!(
        market
            .ask(&owner, "two")
            .await?
            .starts_with("⚠️ Units: must be a whole number")
    );
    market.ask(&owner, "2").await?;
    assert!(
        market
            .ask(&owner, "0")
            .await?
            .starts_with("⚠️ Price per unit: must be more than zero")
    );
    assert!(
        market
            .ask(&owner, "4.555")
            .await?
            .starts_with("⚠️ Price per unit: must be an amount like 4 or 4.50")
    );
    market.ask(&owner, "5").await?;
    assert!(
        market
            .ask(&owner, "5")
            .await?
            .contains("Original value: the price must be lower than the original value")
    );
    let summary = market.say(&owner, "6").await?.pop().ok_or("no summary")?;
    assert!(
        text(&summary).contains("worth EUR 6.00, yours for EUR 5.00"),
        "{summary}"
    );

    // Edit field from the summary returns to the summary after one answer.
    market.press(&owner, &summary, "Edit field").await?;
    market.press(&owner, &summary, "Title").await?;
    let replies = market.say(&owner, "Bread bag").await?;
    assert!(text(replies.last().ok_or("no summary")?).contains("Bread bag"));
    let offers: i64 = sqlx::query_scalar("SELECT count(*) FROM offers")
        .fetch_one(&market.stack.pool)
        .await?;
    assert_eq!(offers, 0, "nothing is published before Publish");
    Ok(())
}

#[tokio::test]
async fn only_approved_businesses_post_deals() -> Result {
    let mut market = Marketplace::start().await?;
    let stranger = unique_user("Ed");
    assert!(
        market
            .ask(&stranger, "/newdeal")
            .await?
            .starts_with("Only registered businesses can post deals.")
    );
    assert_eq!(
        market.ask(&stranger, "/pending").await?,
        "I don't know that command. /help lists what I can do.",
        "non-admins get no admin surface"
    );

    let owner = unique_user("Flo");
    market.register(&owner, "Flo's Kitchen").await?;
    assert!(
        market
            .ask(&owner, "/newdeal")
            .await?
            .starts_with("Your business is still waiting for approval.")
    );

    // The admin rejects with a reason; the business is told why.
    let admin = market.admin.clone();
    let application = market
        .wait_for_text(admin.id, "New business application")
        .await?;
    market.press(&admin, &application, "Reject").await?;
    assert!(market.ask(&admin, "No").await?.starts_with("⚠️ Reason:"));
    market
        .ask(&admin, "The address could not be verified")
        .await?;
    market
        .wait_for_text(owner.id, "Reason: The address could not be verified")
        .await?;
    assert!(
        market
            .ask(&owner, "/newdeal")
            .await?
            .starts_with("Your business application was not approved.")
    );
    Ok(())
}

#[tokio::test]
async fn buttons_for_another_business_are_refused() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Gia");
    let rival = unique_user("Hugo");
    market.approved_business(&owner, "Gia's Bakery").await?;
    market.approved_business(&rival, "Hugo's Deli").await?;
    let (offer_id, published) = market.publish_deal(&owner, "Croissant box").await?;

    // A correctly signed button for Gia's offer, pressed by Hugo (as a leaked or crafted
    // callback would be): the signature is fine, the ownership check is not.
    let codec = CallbackCodec::new(Secret::new(TEST_SECRET_KEY), None);
    for action in ["off_pause", "off_end_yes", "off_edit"] {
        let data = codec.encode(action, &[offer_id])?;
        let update = market.stack.updates.callback(&rival, &published, &data);
        market.post(&rival, update).await?;
        assert_eq!(
            market.last_callback_answer(),
            "That isn't one of your deals."
        );
    }
    assert_eq!(market.offer_state(offer_id).await?.0, "ACTIVE");

    // A tampered id is refused by the signature.
    let data = codec
        .encode("off_pause", &[offer_id])?
        .replacen(&offer_id.to_string(), "999999", 1);
    let update = market.stack.updates.callback(&owner, &published, &data);
    market.post(&owner, update).await?;
    assert_eq!(
        market.last_callback_answer(),
        "This button is no longer valid."
    );

    // Admin buttons are refused to non-admins.
    let business_id = market.business_id("Hugo's Deli").await?;
    let data = codec.encode("adm_suspend", &[business_id])?;
    let update = market.stack.updates.callback(&rival, &published, &data);
    market.post(&rival, update).await?;
    assert_eq!(
        market.last_callback_answer(),
        "This button is no longer valid."
    );
    let status: String = sqlx::query_scalar("SELECT status FROM businesses WHERE id = $1")
        .bind(business_id)
        .fetch_one(&market.stack.pool)
        .await?;
    assert_eq!(status, "approved");
    assert!(
        market
            .ask(&rival, "/myoffers")
            .await?
            .starts_with("You have no deals yet.")
    );
    Ok(())
}

#[tokio::test]
async fn staff_join_once_by_invitation_and_manage_deals_only() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Ida");
    let helper = unique_user("Jon");
    let latecomer = unique_user("Kim");
    market.approved_business(&owner, "Ida's Cafe").await?;
    let (offer_id, _) = market.publish_deal(&owner, "Cake slices").await?;

    let invite = market.ask(&owner, "/invite_staff").await?;
    let link = invite
        .split_whitespace()
        .find(|w| w.starts_with("https://t.me/TooGoodToGoTestBot?start=business_invite_"))
        .ok_or(format!("no invitation link in {invite:?}"))?;
    let payload = link.split("start=").nth(1).ok_or("no payload")?.to_owned();
    assert!(payload.len() <= 64);

    assert!(
        market
            .ask(&helper, &format!("/start {payload}"))
            .await?
            .contains("You now manage deals of Ida's Cafe")
    );
    market
        .wait_for_text(owner.id, "joined Ida's Cafe as staff")
        .await?;
    assert!(
        market
            .ask(&latecomer, &format!("/start {payload}"))
            .await?
            .starts_with("This invitation is invalid"),
        "single use"
    );

    // Staff manage the business's offers but do not invite others.
    let listed = market.say(&helper, "/myoffers").await?;
    assert!(text(&listed[0]).contains("Cake slices"));
    market.press(&helper, &listed[0], "Pause").await?;
    assert_eq!(market.offer_state(offer_id).await?.0, "PAUSED");
    assert_eq!(
        market.ask(&helper, "/invite_staff").await?,
        "Only the owner of a business can invite staff."
    );
    Ok(())
}

#[tokio::test]
async fn a_suspended_business_is_paused_and_cannot_post_until_reinstated() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Lea");
    market.register(&owner, "Lea's Market").await?;
    let admin = market.admin.clone();
    let pending = market.say(&admin, "/pending").await?;
    market.press(&admin, &pending[0], "Approve").await?;
    market.wait_for_text(owner.id, "was approved").await?;
    let (offer_id, _) = market.publish_deal(&owner, "Veggie box").await?;

    market.press(&admin, &pending[0], "Suspend").await?;
    assert_eq!(market.offer_state(offer_id).await?.0, "PAUSED");
    market.wait_for_text(owner.id, "was suspended").await?;
    assert!(
        market
            .ask(&owner, "/newdeal")
            .await?
            .starts_with("Your business is suspended")
    );
    let listed = market.say(&owner, "/myoffers").await?;
    market.press(&owner, &listed[0], "Resume").await?;
    assert!(
        market
            .last_callback_answer()
            .starts_with("Your business is suspended")
    );
    assert_eq!(market.offer_state(offer_id).await?.0, "PAUSED");

    market.press(&admin, &pending[0], "Reinstate").await?;
    market.wait_for_text(owner.id, "is active again").await?;
    market.press(&owner, &listed[0], "Resume").await?;
    assert_eq!(market.offer_state(offer_id).await?.0, "ACTIVE");
    let business_id = market.business_id("Lea's Market").await?;
    assert_eq!(market.audited("business.suspended", business_id).await?, 1);
    assert_eq!(market.audited("business.reinstated", business_id).await?, 1);
    Ok(())
}

#[tokio::test]
async fn the_expiry_job_ends_deals_whose_window_passed_and_tells_the_business() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Mia");
    market.approved_business(&owner, "Mia's Pantry").await?;
    let (ended_id, _) = market.publish_deal(&owner, "Soup of the day").await?;
    let (open_id, _) = market.publish_deal(&owner, "Salad bowl").await?;
    sqlx::query(
        "UPDATE offers SET pickup_start = now() - interval '3 hours',
             pickup_end = now() - interval '1 minute' WHERE id = $1",
    )
    .bind(ended_id)
    .execute(&market.stack.pool)
    .await?;

    // The job runs when the bot starts and then every minute: a restart runs it now.
    let env = market.bot.env.clone();
    market.bot.kill9().await?;
    market.bot.wait_exit(WAIT).await?;
    market.bot = BotProcess::start(env).await?;
    market
        .wait_for_text(owner.id, "The pickup window of “Soup of the day” has ended")
        .await?;
    assert_eq!(market.offer_state(ended_id).await?.0, "EXPIRED");
    assert_eq!(market.offer_state(open_id).await?.0, "ACTIVE");
    assert_eq!(market.audited("offer.expired", ended_id).await?, 1);

    let listed = market.say(&owner, "/myoffers").await?;
    let expired = listed
        .iter()
        .find(|m| text(m).contains("Soup of the day"))
        .ok_or("the expired deal is listed")?;
    assert!(text(expired).contains("Expired"));
    assert!(expired.get("reply_markup").is_none(), "nothing to manage");
    Ok(())
}

#[tokio::test]
async fn a_deal_photo_is_shown_with_its_card() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Nia");
    market.approved_business(&owner, "Nia's Noodles").await?;
    market.say(&owner, "/newdeal").await?;
    market.ask(&owner, "Ready-to-eat meals").await?;
    market.ask(&owner, "Noodle box").await?;
    market.ask(&owner, "Fried noodles with vegetables").await?;
    let update = market.stack.updates.photo(&owner, "noodle-photo-1");
    let replies = market.post(&owner, update).await?;
    assert!(text(&replies[0]).starts_with("When can customers pick up?"));
    market.ask(&owner, "tomorrow 12:00-14:00").await?;
    market.ask(&owner, "3").await?;
    market.ask(&owner, "5").await?;
    let summary = market
        .say(&owner, "Skip")
        .await?
        .pop()
        .ok_or("no summary")?;
    assert!(text(&summary).contains("EUR 5.00"), "{summary}");
    assert!(!text(&summary).contains("worth"), "no original value");
    market.press(&owner, &summary, "Publish").await?;

    let viewed = market.press(&owner, &summary, "View as customer").await?;
    assert_eq!(viewed[0]["photo"][0]["file_id"], "noodle-photo-1");
    let caption = viewed[0]["caption"].as_str().unwrap_or("");
    assert!(
        caption.contains("🍱 Ready-to-eat meals Noodle box"),
        "{caption}"
    );
    Ok(())
}
