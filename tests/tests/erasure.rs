//! /delete_my_data end to end, against the real bot binary: a person with every kind of data
//! (customer, payer, rater, favourite follower, owner of a business, staff of another, queued
//! messages to them and about them) erases it, and every table holds only what /privacy says
//! stays.

use sqlx::PgPool;
use toogoodtogo_tests::harness::unique_user;
use toogoodtogo_tests::market::{Result, text};
use toogoodtogo_tests::paying::{NEAR, PayingShop};

const ERASED: &str = "(customer erased their data)";

async fn count(pool: &PgPool, sql: &'static str, id: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(sql).bind(id).fetch_one(pool).await?)
}

#[tokio::test]
async fn erasure_leaves_only_what_privacy_lists() -> Result {
    let mut shop = PayingShop::start("in_app", 5).await?;
    let shop_id = shop.market.business_id("Bakery Ada").await?;
    let owner = shop.owner.clone();

    // Customer and payer: a paid reservation; the shop is told, naming the customer.
    let (carl, selector) = shop.selector("Carl").await?;
    let invoice = shop.pay_now(&carl, &selector).await?;
    shop.pre_checkout(&carl, &invoice).await?;
    shop.paid(&carl, &invoice, "ch_erasure").await?;
    shop.market.wait_for_text(owner.id, "for Carl").await?;
    let (reservation_id, _, _) = shop.reservation(&carl).await?;
    let market = &mut shop.market;
    let pool = market.stack.pool.clone();
    assert!(
        count(
            &pool,
            "SELECT count(*) FROM outbound_messages WHERE about_user = $1",
            carl.id
        )
        .await?
            >= 1,
        "the shop's notice records whom it names"
    );

    // A saved location, a favourite shop and a rated pickup with a comment.
    market.share_location(&carl, NEAR.0, NEAR.1).await?;
    sqlx::query("INSERT INTO favourites (user_id, business_id) VALUES ($1, $2)")
        .bind(carl.id)
        .bind(shop_id)
        .execute(&pool)
        .await?;
    sqlx::query(
        "INSERT INTO ratings (reservation_id, business_id, customer_id, stars, comment)
         VALUES ($1, $2, $3, 5, 'Lovely bread, Carl from next door')",
    )
    .bind(reservation_id)
    .bind(shop_id)
    .bind(carl.id)
    .execute(&pool)
    .await?;
    sqlx::query(
        "INSERT INTO audit_events (actor_id, action, entity_type, entity_id, after)
         VALUES ($1, 'favourite.added', 'business', $2, jsonb_build_object('note', 'Carl'))",
    )
    .bind(carl.id)
    .bind(shop_id.to_string())
    .execute(&pool)
    .await?;

    // Owner of a business, and staff of another (the owner is told, naming him).
    let kiosk = market
        .seeded_business(&carl, "Kiosk Nord", 52.5, 13.4)
        .await?;
    let invite = market.ask(&owner, "/invite_staff").await?;
    let payload = invite
        .split("start=")
        .nth(1)
        .ok_or(format!("no invitation link in {invite:?}"))?
        .trim()
        .to_owned();
    market.say(&carl, &format!("/start {payload}")).await?;
    market
        .wait_for_text(owner.id, "Carl joined Bakery Ada as staff")
        .await?;

    // Messages still queued: one to him, one about him to the shop.
    sqlx::query(
        "INSERT INTO outbound_messages (chat_id, method, payload, not_before)
         VALUES ($1, 'sendMessage', '{\"method\":\"sendMessage\",\"text\":\"Hi Carl\"}',
                 now() + interval '1 hour')",
    )
    .bind(carl.id)
    .execute(&pool)
    .await?;
    let about: i64 = sqlx::query_scalar(
        "INSERT INTO outbound_messages (chat_id, method, payload, not_before, about_user)
         VALUES ($1, 'sendMessage',
                 '{\"method\":\"sendMessage\",\"text\":\"🛒 New reservation #9: 1 × Bag for Carl\"}',
                 now() + interval '1 hour', $2)
         RETURNING id",
    )
    .bind(owner.id)
    .bind(carl.id)
    .fetch_one(&pool)
    .await?;

    // Erase.
    let replies = market.say(&carl, "/delete_my_data").await?;
    let question = replies.last().cloned().ok_or("no question")?;
    market.press(&carl, &question, "Yes, erase my data").await?;
    assert_eq!(
        market.current_text(carl.id, &question),
        "Done: your personal data has been erased."
    );

    // users: the row stays without a name.
    let (first, last, username, language, erased): (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        bool,
    ) = sqlx::query_as(
        "SELECT first_name, last_name, username, language_code, erased_at IS NOT NULL
         FROM users WHERE telegram_id = $1",
    )
    .bind(carl.id)
    .fetch_one(&pool)
    .await?;
    assert_eq!(
        (first.as_str(), last, username, language, erased),
        ("", None, None, None, true)
    );

    // Erased: settings and location, favourites, dialogues, comments, staff membership, queued
    // messages to him.
    for (table, sql) in [
        (
            "customer_settings",
            "SELECT count(*) FROM customer_settings WHERE user_id = $1",
        ),
        (
            "favourites",
            "SELECT count(*) FROM favourites WHERE user_id = $1",
        ),
        (
            "conversations",
            "SELECT count(*) FROM conversations WHERE user_id = $1",
        ),
        (
            "ratings.comment",
            "SELECT count(*) FROM ratings WHERE customer_id = $1 AND comment IS NOT NULL",
        ),
        (
            "business_members (staff)",
            "SELECT count(*) FROM business_members WHERE user_id = $1 AND role = 'staff'",
        ),
        (
            "outbound_messages (pending to him)",
            "SELECT count(*) FROM outbound_messages WHERE chat_id = $1 AND status = 'pending'",
        ),
        (
            "outbound_messages (naming him)",
            "SELECT count(*) FROM outbound_messages WHERE about_user = $1
             AND payload->>'text' LIKE '%Carl%'",
        ),
        (
            "audit_events (his details)",
            "SELECT count(*) FROM audit_events
             WHERE (actor_id = $1 AND action IN ('favourite.added', 'customer.location_set'))
               AND (before IS NOT NULL OR after IS NOT NULL)",
        ),
        (
            "audit_events (naming him)",
            "SELECT count(*) FROM audit_events
             WHERE after @> jsonb_build_object('user_id', $1) OR after::text LIKE '%Carl%'",
        ),
    ] {
        assert_eq!(count(&pool, sql, carl.id).await?, 0, "{table}");
    }
    let redacted: String =
        sqlx::query_scalar("SELECT payload->>'text' FROM outbound_messages WHERE id = $1")
            .bind(about)
            .fetch_one(&pool)
            .await?;
    assert_eq!(
        redacted,
        format!("🛒 New reservation #9: 1 × Bag for {ERASED}")
    );

    // Kept, as /privacy says: the order, its payment and stars (bookkeeping), the business he
    // owns, and the skeleton of his audit events.
    for (table, sql) in [
        (
            "reservations",
            "SELECT count(*) FROM reservations WHERE customer_id = $1 AND payment_status = 'PAID'",
        ),
        (
            "payments",
            "SELECT count(*) FROM payments WHERE payer_id = $1",
        ),
        (
            "ratings",
            "SELECT count(*) FROM ratings WHERE customer_id = $1 AND stars = 5",
        ),
        (
            "business_members (owner)",
            "SELECT count(*) FROM business_members WHERE user_id = $1 AND role = 'owner'",
        ),
        (
            "businesses",
            "SELECT count(*) FROM businesses WHERE owner_id = $1",
        ),
        (
            "audit_events (skeleton)",
            "SELECT count(*) FROM audit_events WHERE actor_id = $1
             AND action = 'favourite.added' AND redacted_at IS NOT NULL",
        ),
        (
            "audit_events (money)",
            "SELECT count(*) FROM audit_events WHERE action = 'payment.received'
             AND after IS NOT NULL AND actor_id = $1",
        ),
    ] {
        assert_eq!(count(&pool, sql, carl.id).await?, 1, "{table}");
    }
    assert!(
        sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM businesses WHERE id = $1)")
            .bind(kiosk)
            .fetch_one(&pool)
            .await?
    );

    // The shop's reservation list says that the customer erased their data.
    let replies = market.say(&owner, "/myoffers").await?;
    let card = replies
        .iter()
        .find(|m| text(m).contains("Surprise bag"))
        .cloned()
        .ok_or("no card")?;
    let replies = market.press(&owner, &card, "Reservations").await?;
    let list = text(replies.last().ok_or("no list")?);
    assert!(list.contains(&format!("for {ERASED}")), "{list}");

    // /privacy lists what stays.
    let privacy = market.ask(&unique_user("Pia"), "/privacy").await?;
    assert!(
        privacy.contains("What stays, and for how long"),
        "{privacy}"
    );
    Ok(())
}
