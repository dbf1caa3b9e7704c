//! Every flow in German, end to end through the Telegram fake against the real bot binary:
//! browsing, reserving, paying, cancelling, rating, registering a business, posting and managing a
//! deal, and the admin's review — each message in the reader's language (a German customer of an
//! English shop reads German, the shop English), with German money and dates, and the language
//! changed in /settings sticking although Telegram keeps reporting another.

use serde_json::Value;
use toogoodtogo_tests::driver::TestUser;
use toogoodtogo_tests::harness::unique_user;
use toogoodtogo_tests::market::{Marketplace, Result, button, text};
use toogoodtogo_tests::paying::PayingShop;

const CENTER: (f64, f64) = (52.52, 13.405);
/// About 400 m from the center.
const NEAR: (f64, f64) = (52.521, 13.41);

fn german(name: &str) -> TestUser {
    unique_user(name).speaking(Some("de"))
}

fn last(replies: &[Value]) -> Result<Value> {
    replies.last().cloned().ok_or_else(|| "no reply".into())
}

/// The 6-character pickup code in a German confirmation.
fn pickup_code(confirmation: &str) -> Result<String> {
    let rest = confirmation
        .split("Abholcode: ")
        .nth(1)
        .ok_or_else(|| format!("no pickup code in {confirmation:?}"))?;
    Ok(rest.chars().take(6).collect())
}

#[tokio::test]
async fn a_german_customer_browses_reserves_picks_up_and_rates_in_german() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Ada");
    let shop = market
        .seeded_business(&owner, "Bakery Ada", NEAR.0, NEAR.1)
        .await?;
    market
        .seeded_offer(shop, "Surprise bag", 5, -30, 120)
        .await?;
    let customer = german("Carla");

    let greeting = market.ask(&customer, "/start").await?;
    assert!(greeting.starts_with("Hallo Carla! 🥐"), "{greeting}");
    let menu = last(&market.say(&customer, "🛒 Ich will Essen retten").await?)?;
    assert!(text(&menu).contains("Was suchst du?"), "{menu}");
    let ask = last(&market.press(&customer, &menu, "In der Nähe").await?)?;
    assert!(
        text(&ask).contains("brauche ich einmal deinen Standort"),
        "{ask}"
    );
    assert_eq!(
        ask["reply_markup"]["keyboard"][0][0]["text"],
        "📍 Standort teilen"
    );
    let page = last(&market.share_location(&customer, CENTER.0, CENTER.1).await?)?;
    let listing = text(&page);
    assert!(listing.starts_with("Angebot 1 von 1"), "{listing}");
    assert!(listing.contains("🥐 Bäckerei Surprise bag"), "{listing}");
    assert!(
        listing.contains("Wert 12,00 €, für dich 4,50 €"),
        "{listing}"
    );
    assert!(listing.contains("noch 5"), "{listing}");
    assert!(listing.contains("m entfernt"), "{listing}");

    market.press(&customer, &page, "Details").await?;
    assert!(
        market
            .current_text(customer.id, &page)
            .contains("📍 Main Street 12, 10115 Berlin")
    );
    market.press(&customer, &page, "Reservieren").await?;
    assert!(market.current_text(customer.id, &page).starts_with(
        "1 × Surprise bag für 4,50 € reservieren? Bezahlt wird bei der Abholung im Laden."
    ));
    market.press(&customer, &page, "➕").await?;
    assert!(
        market
            .current_text(customer.id, &page)
            .starts_with("2 × Surprise bag für 9,00 € reservieren?")
    );
    market.press(&customer, &page, "2 reservieren").await?;
    let confirmation = market.current_text(customer.id, &page);
    assert!(
        confirmation.starts_with("✅ Reserviert! Bestellung #"),
        "{confirmation}"
    );
    assert!(
        confirmation.contains("Bei Abholung zu zahlen: 9,00 €"),
        "{confirmation}"
    );
    assert!(confirmation.contains("🕒 Abholung heute"), "{confirmation}");
    let code = pickup_code(&confirmation)?;

    // The English shop reads its notice in English, with English money.
    let notice = market.wait_for_text(owner.id, "New reservation #").await?;
    assert!(
        text(&notice).contains("2 × Surprise bag for Carla (EUR 9.00"),
        "{notice}"
    );

    let upcoming = last(&market.say(&customer, "/my_reservations").await?)?;
    assert!(text(&upcoming).contains(&code), "{upcoming}");
    assert!(button(&upcoming, "❌ Stornieren").is_some(), "{upcoming}");

    let reply = market.ask(&owner, &code).await?;
    assert!(reply.contains("Collect EUR 9.00"), "{reply}");
    let question = market
        .wait_for_text(customer.id, "Wie war es bei Bakery Ada?")
        .await?;
    market.press(&customer, &question, "⭐⭐⭐⭐").await?;
    assert!(
        market
            .current_text(customer.id, &question)
            .starts_with("⭐⭐⭐⭐ Danke!")
    );
    let reply = market.ask(&customer, "Lecker").await?;
    assert_eq!(reply, "Danke! Dein Kommentar ist gespeichert.");

    let menu = last(&market.say(&customer, "/browse").await?)?;
    market.press(&customer, &menu, "Alle Angebote").await?;
    let card = market.current_text(customer.id, &menu);
    assert!(card.contains("Bakery Ada · ⭐ 4,0 (1)"), "{card}");

    let past = market.say(&customer, "/my_reservations").await?;
    assert!(
        past.iter()
            .any(|m| text(m).contains("— abgeholt") || text(m).contains("– abgeholt")),
        "{past:?}"
    );
    market.assert_rendered(customer.id)?;
    market.assert_rendered(owner.id)
}

#[tokio::test]
async fn a_german_customer_cancels_and_a_german_shop_hears_it_in_german() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = german("Anke");
    let shop = market
        .seeded_business(&owner, "Bäckerei Anke", NEAR.0, NEAR.1)
        .await?;
    let offer = market.seeded_offer(shop, "Brottüte", 3, -30, 120).await?;
    // An English customer: the German shop still reads German.
    let english = unique_user("Eve");
    let page = last(
        &market
            .say(&english, &format!("/start offer_{offer}"))
            .await?,
    )?;
    market.press(&english, &page, "Reserve").await?;
    market.press(&english, &page, "Reserve 1").await?;
    assert!(
        market
            .current_text(english.id, &page)
            .starts_with("✅ Reserved! Order #")
    );
    let notice = market
        .wait_for_text(owner.id, "Neue Reservierung #")
        .await?;
    assert!(
        text(&notice).contains("1 × Brottüte für Eve (4,50 €, Zahlung im Laden)"),
        "{notice}"
    );

    let customer = german("Carla");
    let page = last(
        &market
            .say(&customer, &format!("/start offer_{offer}"))
            .await?,
    )?;
    market.press(&customer, &page, "Reservieren").await?;
    market.press(&customer, &page, "1 reservieren").await?;
    let upcoming = last(&market.say(&customer, "/my_reservations").await?)?;
    market.press(&customer, &upcoming, "❌ Stornieren").await?;
    assert!(
        market
            .current_text(customer.id, &upcoming)
            .contains("stornieren? Der Laden kann es dann jemand anderem geben."),
        "{}",
        market.current_text(customer.id, &upcoming)
    );
    market.press(&customer, &upcoming, "Ja, stornieren").await?;
    assert!(
        market
            .current_text(customer.id, &upcoming)
            .contains("ist storniert. Danke, dass du dem Laden Bescheid gibst!")
    );
    assert_eq!(market.last_callback_answer(), "Reservierung storniert.");
    let cancelled = market
        .wait_for_text(owner.id, "wurde storniert: 1 × Brottüte sind wieder frei.")
        .await?;
    assert!(text(&cancelled).starts_with("↩️ Reservierung #"));
    market.assert_rendered(customer.id)?;
    market.assert_rendered(owner.id)
}

#[tokio::test]
async fn a_german_customer_pays_in_the_chat_in_euros_written_the_german_way() -> Result {
    let mut shop = PayingShop::start("in_app", 5).await?;
    let customer = german("Carla");
    let page = last(
        &shop
            .market
            .say(&customer, &format!("/start offer_{}", shop.offer))
            .await?,
    )?;
    shop.market.press(&customer, &page, "Reservieren").await?;
    let selector = shop.market.current(customer.id, &page);
    assert!(
        text(&selector)
            .starts_with("1 × Surprise bag für 4,50 € reservieren? Bezahl jetzt im Chat."),
        "{selector}"
    );
    shop.market
        .press(&customer, &selector, "4,50 € jetzt zahlen")
        .await?;
    let invoice = shop
        .market
        .stack
        .fake
        .invoices(customer.id)
        .last()
        .cloned()
        .ok_or("no invoice")?;
    let description = invoice["description"].as_str().unwrap_or("");
    assert!(
        description.contains("bei Bakery Ada")
            && description.ends_with("Abholcode nach der Zahlung."),
        "{description}"
    );
    assert!(
        shop.market.count_messages(
            customer.id,
            "Die Rechnung kommt unten: bezahl innerhalb von"
        ) == 1
    );
    let answer = shop.pre_checkout(&customer, &invoice).await?;
    assert_eq!(answer["ok"], true, "{answer}");
    shop.paid(&customer, &invoice, "ch_de_1").await?;
    let confirmation = shop
        .market
        .wait_for_text(customer.id, "✅ Reserviert! Bestellung #")
        .await?;
    assert!(
        text(&confirmation).contains("💶 Bezahlt: 4,50 €"),
        "{confirmation}"
    );
    shop.market.assert_rendered(customer.id)
}

#[tokio::test]
async fn a_german_business_registers_is_approved_by_a_german_admin_and_manages_a_deal() -> Result {
    let mut market = Marketplace::start().await?;
    // The admin's Telegram speaks German: their notices and buttons are German.
    let admin = market.admin.clone().speaking(Some("de"));
    market.say(&admin, "/start").await?;
    let owner = german("Olga");

    let reply = market.ask(&owner, "/register_business").await?;
    assert!(reply.contains("Wie heißt dein Betrieb?"), "{reply}");
    assert!(
        market
            .ask(&owner, "Bäckerei Olga")
            .await?
            .starts_with("Straße und Hausnummer?")
    );
    let refused = market.ask(&owner, "Hauptstraße").await?;
    assert!(
        refused
            .starts_with("⚠️ Straße und Hausnummer: braucht den Straßennamen und die Hausnummer."),
        "{refused}"
    );
    assert!(
        market
            .ask(&owner, "Hauptstraße 5")
            .await?
            .starts_with("Ort?")
    );
    assert!(
        market
            .ask(&owner, "Berlin")
            .await?
            .starts_with("Postleitzahl?")
    );
    market.ask(&owner, "10115").await?;
    market.ask(&owner, "/skip").await?;
    let ask_location = market.ask(&owner, "Überspringen").await?;
    assert!(
        ask_location.starts_with("Letzter Schritt"),
        "{ask_location}"
    );
    let update = market.stack.updates.location(&owner, 52.52, 13.405);
    let summary = last(&market.post(&owner, update).await?)?;
    assert!(
        text(&summary).contains("Name: Bäckerei Olga\nAdresse: Hauptstraße 5, 10115 Berlin"),
        "{summary}"
    );
    market
        .press(&owner, &summary, "Zur Freigabe senden")
        .await?;
    assert!(
        market
            .current_text(owner.id, &summary)
            .contains("ist zur Freigabe eingereicht")
    );

    let notice = market
        .wait_for_text(admin.id, "🆕 Neue Anmeldung eines Betriebs")
        .await?;
    assert!(button(&notice, "✅ Freigeben").is_some(), "{notice}");
    let pending = market.say(&admin, "/pending").await?;
    assert!(
        text(&pending[0]).starts_with("Wartet auf Freigabe"),
        "{pending:?}"
    );
    market.press(&admin, &pending[0], "Freigeben").await?;
    assert!(
        market
            .current_text(admin.id, &pending[0])
            .starts_with("✅ Freigegeben: Bäckerei Olga")
    );
    let commands = market.stack.fake.calls_of("setMyCommands");
    assert!(
        commands
            .iter()
            .any(|c| c.params["scope"]["chat_id"] == admin.id
                && c.params["commands"][0]["description"]
                    == "Anmeldungen, die auf Freigabe warten"),
        "the admin's menu in German: {commands:?}"
    );

    let approval = market.wait_for_text(owner.id, "ist freigegeben!").await?;
    let replies = market
        .press(&owner, &approval, "Jetzt Angebot einstellen")
        .await?;
    assert!(
        text(&replies[0]).contains("Was für Essen ist es?"),
        "{replies:?}"
    );
    assert!(market.ask(&owner, "🥐 Bäckerei").await?.contains("Titel"));
    market.ask(&owner, "Brottüte").await?;
    market.ask(&owner, "Brot und Gebäck vom Tag").await?;
    market.ask(&owner, "Überspringen").await?;
    assert!(
        market
            .ask(&owner, "morgen 18:00-20:00")
            .await?
            .starts_with("Wie viele Stück")
    );
    assert!(
        market
            .ask(&owner, "5")
            .await?
            .starts_with("Preis pro Stück in EUR?")
    );
    market.ask(&owner, "4,50").await?;
    let summary = last(&market.say(&owner, "12").await?)?;
    market.press(&owner, &summary, "Veröffentlichen").await?;
    let card = market.current_text(owner.id, &summary);
    assert!(card.starts_with("✅ Dein Angebot ist online!"), "{card}");
    assert!(card.contains("Wert 12,00 €, für dich 4,50 €"), "{card}");
    assert!(card.contains("Abholung morgen 18:00–20:00"), "{card}");
    assert!(card.contains("noch 5"), "{card}");
    let offer_id: i64 = sqlx::query_scalar("SELECT id FROM offers WHERE title = 'Brottüte'")
        .fetch_one(&market.stack.pool)
        .await?;

    market.press(&owner, &summary, "Verwalten").await?;
    market.press(&owner, &summary, "Pausieren").await?;
    assert_eq!(market.offer_state(offer_id).await?.0, "PAUSED");
    assert!(
        market
            .current_text(owner.id, &summary)
            .contains("⏸ Pausiert")
    );
    market.press(&owner, &summary, "Fortsetzen").await?;
    assert_eq!(market.offer_state(offer_id).await?.0, "ACTIVE");

    let listed = market.say(&owner, "/myoffers").await?;
    market.press(&owner, &listed[0], "Jetzt beenden").await?;
    assert!(
        market
            .current_text(owner.id, &listed[0])
            .starts_with("„Brottüte“ jetzt beenden?"),
        "{}",
        market.current_text(owner.id, &listed[0])
    );
    market.press(&owner, &listed[0], "Ja, beenden").await?;
    assert_eq!(market.offer_state(offer_id).await?.0, "EXPIRED_EARLY");
    assert!(
        market
            .current_text(owner.id, &listed[0])
            .contains("Vorzeitig beendet")
    );
    market.assert_rendered(owner.id)?;
    market.assert_rendered(admin.id)
}

#[tokio::test]
async fn an_admin_rejects_in_german_and_the_applicant_reads_the_reason_in_english() -> Result {
    let mut market = Marketplace::start().await?;
    let admin = market.admin.clone().speaking(Some("de-AT"));
    market.say(&admin, "/help").await?;
    let owner = unique_user("Bo");
    market.register(&owner, "Bo's Deli").await?;
    let pending = market.say(&admin, "/pending").await?;
    market
        .press(&admin, &pending[0], "Ablehnen (mit Grund)")
        .await?;
    let ask = market.stack.fake.transcript(admin.id);
    assert!(
        ask.iter()
            .any(|m| text(m).starts_with("Warum wird abgelehnt?")),
        "{ask:?}"
    );
    let done = market
        .ask(&admin, "Die Adresse ließ sich nicht prüfen")
        .await?;
    assert!(done.starts_with("❌ Abgelehnt: Bo's Deli"), "{done}");
    let notice = market.wait_for_text(owner.id, "was not approved").await?;
    assert!(
        text(&notice).contains("Reason: Die Adresse ließ sich nicht prüfen"),
        "{notice}"
    );
    market.assert_rendered(admin.id)
}

#[tokio::test]
async fn the_language_chosen_in_settings_sticks_and_other_languages_read_english() -> Result {
    let mut market = Marketplace::start().await?;
    // Telegram reports English; the user switches to German in /settings.
    let user = unique_user("Sam");
    let settings = last(&market.say(&user, "/settings").await?)?;
    assert!(
        text(&settings).contains("• Language: English"),
        "{settings}"
    );
    market.press(&user, &settings, "🌐 Language").await?;
    assert!(
        market
            .current_text(user.id, &settings)
            .starts_with("Which language should I write to you in?")
    );
    assert!(button(&market.current(user.id, &settings), "English").is_some());
    market.press(&user, &settings, "Deutsch").await?;
    assert_eq!(market.last_callback_answer(), "Gespeichert ✅");
    let shown = market.current_text(user.id, &settings);
    assert!(shown.starts_with("⚙️ Einstellungen"), "{shown}");
    assert!(shown.contains("• Sprache: Deutsch"), "{shown}");
    let changed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events
         WHERE action = 'customer.settings_changed' AND after->>'language' = 'de'",
    )
    .fetch_one(&market.stack.pool)
    .await?;
    assert_eq!(changed, 1);
    let commands = market.stack.fake.calls_of("setMyCommands");
    assert!(
        commands
            .iter()
            .any(|c| c.params["scope"]["chat_id"] == user.id
                && c.params["commands"][0]["description"] == "Angebote in deiner Nähe finden"),
        "the user's menu in German: {commands:?}"
    );
    // Telegram keeps saying "en"; the choice stands.
    let help = market.ask(&user, "/help").await?;
    assert!(help.starts_with("Too Good To Go hilft Läden"), "{help}");

    // Any language without a translation reads English; none at all too.
    for code in [Some("fr"), None] {
        let other = unique_user("Zoe").speaking(code);
        let greeting = market.ask(&other, "/start").await?;
        assert!(greeting.starts_with("Hi Zoe!"), "{code:?}: {greeting}");
    }

    // The default menu is published in English and, for German Telegram apps, in German.
    let menus = market.stack.fake.calls_of("setMyCommands");
    assert!(
        menus.iter().any(|c| c.params["language_code"] == "de"
            && c.params["scope"].is_null()
            && c.params["commands"][0]["description"] == "Angebote in deiner Nähe finden"),
        "{menus:?}"
    );
    assert!(
        menus.iter().any(|c| c.params["language_code"].is_null()
            && c.params["scope"].is_null()
            && c.params["commands"][0]["description"] == "Find deals near you"),
        "{menus:?}"
    );
    market.assert_rendered(user.id)
}
