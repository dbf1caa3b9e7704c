//! Replies go out only after their update's changes have committed: a commit that fails sends
//! nothing (no pickup code for a reservation that does not exist), and the retry that commits
//! sends its replies once.

use std::time::Duration;

use toogoodtogo_tests::harness::{self, eventually, unique_user};
use toogoodtogo_tests::market::{Marketplace, button, text};
use toogoodtogo_tests::paying::NEAR;
use toogoodtogo_tests::telegram_fake::FakeTelegram;

type Result<T = ()> = std::result::Result<T, harness::Error>;

const WAIT: Duration = Duration::from_secs(20);

/// Makes every commit that inserted into `table` fail, the way a lost connection or a
/// serialization failure at COMMIT would: a deferred trigger raises at commit time, after the
/// handler has run to the end.
async fn refuse_commits_into(pool: &sqlx::PgPool, table: &str) -> Result {
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'commit refused by the test'; END $$",
    )
    .execute(pool)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON {table}
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit()"
    )))
    .execute(pool)
    .await?;
    Ok(())
}

/// Edits that showed the customer a pickup code.
fn pickup_code_edits(fake: &FakeTelegram) -> usize {
    fake.calls_of("editMessageText")
        .iter()
        .filter(|call| {
            call.params["text"]
                .as_str()
                .is_some_and(|t| t.contains("Pickup code"))
        })
        .count()
}

async fn allow_commits_into(pool: &sqlx::PgPool, table: &str) -> Result {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP TRIGGER refuse_commit ON {table}"
    )))
    .execute(pool)
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_reservation_whose_commit_fails_shows_no_pickup_code_and_the_retry_shows_one() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Ada");
    let shop = market
        .seeded_business(&owner, "Bakery Ada", NEAR.0, NEAR.1)
        .await?;
    let offer = market
        .seeded_offer(shop, "Surprise bag", 3, 30, 150)
        .await?;
    let customer = unique_user("Bea");
    let selector = market.open_selector(&customer, offer).await?;
    let data = button(&selector, "✅ Reserve 1").ok_or("no Reserve 1 button")?;
    let answers_before = market.stack.fake.callback_answers().len();

    refuse_commits_into(&market.stack.pool, "reservations").await?;
    let press = market.stack.updates.callback(&customer, &selector, &data);
    market.submit(press).await?;
    // The handler runs to the end and its commit fails, again on every retry.
    let failed_twice = eventually(WAIT, || async {
        (market
            .bot
            .log()
            .matches("processing a batch failed")
            .count()
            >= 2)
            .then_some(())
    })
    .await;
    assert!(failed_twice.is_some(), "the commit never failed twice");
    let fake = &market.stack.fake;
    assert_eq!(
        pickup_code_edits(fake),
        0,
        "a pickup code for a reservation that does not exist"
    );
    assert_eq!(
        fake.callback_answers().len(),
        answers_before,
        "the press was answered although nothing committed"
    );
    assert!(!text(&market.current(customer.id, &selector)).contains("Pickup code"));

    allow_commits_into(&market.stack.pool, "reservations").await?;
    market.wait_until_done().await?;
    let codes: Vec<String> =
        sqlx::query_scalar("SELECT pickup_code FROM reservations WHERE customer_id = $1")
            .bind(customer.id)
            .fetch_all(&market.stack.pool)
            .await?;
    assert_eq!(codes.len(), 1, "one reservation");
    let fake = &market.stack.fake;
    assert_eq!(
        pickup_code_edits(fake),
        1,
        "the committed reservation is confirmed once"
    );
    assert!(text(&market.current(customer.id, &selector)).contains(&codes[0]));
    assert_eq!(fake.callback_answers().len(), answers_before + 1);
    Ok(())
}
