//! The demo data against the real local PostgreSQL: seeded into a fresh database migrated by the
//! bot's own migrations, found by the bot's own customer search, seeded once only; and in a
//! running sandbox, the customer's Nearby shows the demo deals at once and the admin's /pending
//! the demo application.

mod support;

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use sqlx::Connection;
use support::{EventStream, start_sandbox};
use toogoodtogo_bot::marketplace::geo::Point;
use toogoodtogo_bot::store::search::{self, Filter, Listing, Query};
use toogoodtogo_bot::store::{customers, offers};
use toogoodtogo_sandbox::demo::{self, DemoOutcome, DemoSettings};
use toogoodtogo_sandbox::postgres::SandboxDatabase;
use toogoodtogo_sandbox::session::UserIds;
use toogoodtogo_sandbox::web::HOME_PLACE;

fn titles(listings: &[Listing]) -> Vec<&str> {
    listings.iter().map(|l| l.offer.title.as_str()).collect()
}

fn home() -> Point {
    Point {
        latitude: HOME_PLACE.latitude,
        longitude: HOME_PLACE.longitude,
    }
}

async fn seeded_database(
    database: &SandboxDatabase,
    settings: &DemoSettings,
) -> support::Result<(sqlx::PgConnection, DemoOutcome)> {
    let pool = sqlx::PgPool::connect(&database.url).await?;
    toogoodtogo_bot::store::migrate(&pool).await?;
    pool.close().await;
    let mut conn = sqlx::PgConnection::connect(&database.url).await?;
    let outcome = demo::seed(&mut conn, settings).await?;
    Ok((conn, outcome))
}

#[tokio::test]
async fn the_bots_search_finds_the_demo_offers_and_a_second_seeding_adds_nothing() -> support::Result
{
    let database = SandboxDatabase::create(&support::admin_url()).await?;
    let result = check_seeded_database(&database).await;
    database.drop_database().await?;
    result
}

async fn check_seeded_database(database: &SandboxDatabase) -> support::Result {
    let ids = UserIds::from_base(1000);
    let settings = DemoSettings {
        users: ids,
        currency: "EUR".to_owned(),
        now: Utc::now(),
    };
    let (mut conn, outcome) = seeded_database(database, &settings).await?;
    assert_eq!(
        outcome,
        DemoOutcome::Seeded {
            businesses: 4,
            offers: 6,
            pending: 1
        }
    );
    let query = |filter, origin, radius_km| Query {
        filter,
        origin,
        radius_km,
        now: Utc::now(),
    };

    // Nearby from the customer's saved location: the business owner's bakery first, ranked by
    // the end of the window; the Charlottenburg deli is beyond the default 5 km.
    let settings_row = customers::get(&mut conn, ids.customer).await?;
    assert_eq!(settings_row.location, Some(home()));
    let radius = f64::from(settings_row.radius_km);
    let nearby = search::page(
        &mut conn,
        &query(Filter::Nearby, Some(home()), radius),
        0,
        10,
    )
    .await?;
    assert_eq!(
        titles(&nearby),
        [
            "Surprise bag: bread & pastries",
            "Sourdough loaves",
            "Fruit & veg crate",
            "Lunch box of the day",
            "Veggie curry bowls"
        ]
    );
    let first = &nearby[0];
    assert_eq!(first.offer.business_name, "Backstube am Alex");
    assert!(first.distance_km.unwrap_or(f64::MAX) < 0.3, "{first:?}");
    assert_eq!(
        (first.offer.price_minor, first.offer.original_minor),
        (450, Some(1200))
    );
    assert_eq!(first.offer.currency, "EUR");
    assert!(first.offer.pickup_start < Utc::now() && first.offer.pickup_end > Utc::now());

    // All deals and Ending soon need no location; the pending application sells nothing.
    let all = search::page(&mut conn, &query(Filter::All, None, radius), 0, 10).await?;
    assert_eq!(all.len(), 6);
    assert_eq!(all[0].total, 6);
    assert!(all.iter().all(|l| l.offer.city == "Berlin"));
    assert!(
        all.iter()
            .any(|l| l.offer.pickup_start > Utc::now() + Duration::minutes(30)),
        "some offers open later today"
    );
    let soon = search::page(&mut conn, &query(Filter::EndingSoon, None, radius), 0, 10).await?;
    assert_eq!(titles(&soon), ["Lunch box of the day"]);

    // /myoffers of the business owner lists their two offers; the admin has one to decide.
    let mine = offers::list_for_member(&mut conn, ids.business_owner, 10).await?;
    assert_eq!(mine.len(), 2);
    assert!(mine.iter().all(|o| o.business_name == "Backstube am Alex"));
    let pending: Vec<(String, i64)> =
        sqlx::query_as("SELECT name, owner_id FROM businesses WHERE status = 'pending'")
            .fetch_all(&mut conn)
            .await?;
    assert_eq!(pending.len(), 1);
    assert!(pending[0].1 >= ids.first_demo_owner && pending[0].1 < ids.first_new_user);
    let (members, approved_by_admin): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM business_members WHERE role = 'owner'),
                (SELECT count(*) FROM businesses WHERE decided_by = $1 AND status = 'approved')",
    )
    .bind(ids.admin)
    .fetch_one(&mut conn)
    .await?;
    assert_eq!((members, approved_by_admin), (5, 4));
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT first_name FROM users WHERE telegram_id = ANY($1) ORDER BY telegram_id",
    )
    .bind(vec![ids.customer, ids.business_owner, ids.admin])
    .fetch_all(&mut conn)
    .await?;
    assert_eq!(names, ["Carla", "Bruno", "Ada"]);

    // The bakery takes payment in the chat or at pickup, the greengrocer only in the chat.
    let modes: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, payment_mode FROM businesses WHERE payment_mode <> 'on_site' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await?;
    assert_eq!(
        modes,
        [
            ("Backstube am Alex".to_owned(), "both".to_owned()),
            ("Kollwitz Gemüse".to_owned(), "in_app".to_owned())
        ]
    );

    // Seeding again changes nothing.
    let again = demo::seed(&mut conn, &settings).await?;
    assert_eq!(again, DemoOutcome::AlreadySeeded);
    let counts: (i64, i64) =
        sqlx::query_as("SELECT (SELECT count(*) FROM businesses), (SELECT count(*) FROM offers)")
            .fetch_one(&mut conn)
            .await?;
    assert_eq!(counts, (5, 6));
    conn.close().await?;
    Ok(())
}

#[tokio::test]
async fn the_currency_is_the_bots_and_a_missing_schema_is_skipped() -> support::Result {
    let database = SandboxDatabase::create(&support::admin_url()).await?;
    let result = async {
        // Before the bot migrated: nothing to seed into.
        let mut conn = sqlx::PgConnection::connect(&database.url).await?;
        let settings = DemoSettings {
            users: UserIds::from_base(2000),
            currency: "CHF".to_owned(),
            now: Utc::now(),
        };
        assert_eq!(
            demo::seed(&mut conn, &settings).await?,
            DemoOutcome::TablesMissing
        );
        conn.close().await?;
        let (mut conn, outcome) = seeded_database(&database, &settings).await?;
        assert!(matches!(outcome, DemoOutcome::Seeded { .. }), "{outcome:?}");
        let currencies: Vec<String> = sqlx::query_scalar("SELECT DISTINCT currency FROM offers")
            .fetch_all(&mut conn)
            .await?;
        assert_eq!(currencies, ["CHF"]);
        conn.close().await?;
        support::Result::Ok(())
    }
    .await;
    database.drop_database().await?;
    result
}

#[tokio::test]
async fn in_a_running_sandbox_nearby_shows_the_demo_deals_and_pending_the_application()
-> support::Result {
    let sandbox = start_sandbox().await?;
    assert!(
        sandbox
            .storage_report
            .iter()
            .any(|l| l.starts_with("demo data: 4 approved businesses around Berlin")),
        "{:?}",
        sandbox.storage_report
    );
    let http = reqwest::Client::new();
    let customer = sandbox.session.ids.customer;
    let mut events = EventStream::open(&sandbox.url, 0).await?;
    http.post(format!("{}/api/users/{customer}/text", sandbox.url))
        .json(&json!({ "text": "/browse" }))
        .send()
        .await?
        .error_for_status()?;
    let menu = events
        .next_matching(|e| {
            e["kind"] == "bot_message"
                && e["chat_id"] == customer
                && e["message"]["reply_markup"]["inline_keyboard"].is_array()
        })
        .await?;
    let nearby = menu["message"]["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .find(|b| b["text"].as_str().is_some_and(|t| t.contains("Nearby")))
        .ok_or_else(|| format!("no Nearby button in {menu}"))?;
    http.post(format!("{}/api/users/{customer}/button", sandbox.url))
        .json(&json!({ "message_id": menu["message"]["message_id"], "data": nearby["callback_data"] }))
        .send()
        .await?
        .error_for_status()?;
    // The saved location is used: the results replace the menu, no location is asked for.
    let page = events
        .next_matching(|e| e["kind"] == "bot_edit" && e["chat_id"] == customer)
        .await?;
    let text = page["message"]["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("Deal 1 of 5"), "{page}");
    assert!(text.contains("Backstube am Alex"), "{page}");
    assert!(text.contains("EUR 4.50"), "{page}");

    // The admin has the demo application to decide.
    let admin = sandbox.session.ids.admin;
    http.post(format!("{}/api/users/{admin}/text", sandbox.url))
        .json(&json!({ "text": "/pending" }))
        .send()
        .await?
        .error_for_status()?;
    let application = events
        .next_matching(|e| e["kind"] == "bot_message" && e["chat_id"] == admin)
        .await?;
    let text = application["message"]["text"].as_str().unwrap_or_default();
    assert!(text.contains("Neuköllner Nudeln"), "{application}");
    sandbox.shutdown().await;
    Ok(())
}
