//! Business applications end to end, through the Telegram fake against the real bot binary: a
//! second application for the same name and address is reviewed side by side instead of being
//! refused (so nobody can squat a name), only one of them can be approved, and applications no
//! admin decided expire after 14 days with a warning a day before.

use toogoodtogo_tests::harness::unique_user;
use toogoodtogo_tests::market::{Marketplace, Result, text};

#[tokio::test]
async fn a_matching_application_is_reviewed_side_by_side_and_only_one_is_approved() -> Result {
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Cy");
    let copycat = unique_user("Di");
    market.register(&owner, "Corner Shop").await?;

    market.say(&copycat, "/register_business").await?;
    market.ask(&copycat, "corner shop").await?;
    market.ask(&copycat, "MAIN STREET 12").await?;
    market.ask(&copycat, "Berlin").await?;
    market.ask(&copycat, "10115").await?;
    market.ask(&copycat, "Skip").await?;
    market.ask(&copycat, "Skip").await?;
    let update = market.stack.updates.location(&copycat, 52.5, 13.4);
    let summary = market
        .post(&copycat, update)
        .await?
        .pop()
        .ok_or("no summary")?;
    let replies = market.press(&copycat, &summary, "Submit").await?;
    assert!(replies.is_empty(), "{replies:?}");
    let submitted = market.current_text(copycat.id, &summary);
    assert!(
        submitted.starts_with("✅ corner shop was submitted for approval. It is under review"),
        "told it is under review, not that the name is taken: {submitted}"
    );
    let statuses: Vec<String> = sqlx::query_scalar("SELECT status FROM businesses ORDER BY id")
        .fetch_all(&market.stack.pool)
        .await?;
    assert_eq!(statuses, ["pending", "pending"]);

    // The admin is shown the two side by side, in the notification and in /pending.
    let admin = market.admin.clone();
    let notified = market
        .wait_for_text(admin.id, "New business application:\n\ncorner shop")
        .await?;
    assert!(
        text(&notified)
            .contains("⚠️ Same name and address as:\n— also waiting for approval:\nCorner Shop"),
        "{notified}"
    );
    let pending = market.say(&admin, "/pending").await?;
    assert_eq!(pending.len(), 2, "{pending:?}");
    assert!(
        text(&pending[0])
            .contains("Same name and address as:\n— also waiting for approval:\ncorner shop")
    );
    assert!(
        text(&pending[1])
            .contains("Same name and address as:\n— also waiting for approval:\nCorner Shop")
    );

    // Approving the real one leaves the copy pending; the copy cannot be approved as well.
    market.press(&admin, &pending[0], "Approve").await?;
    market
        .wait_for_text(owner.id, "Corner Shop was approved")
        .await?;
    let replies = market.press(&admin, &pending[1], "Approve").await?;
    assert!(replies.is_empty(), "{replies:?}");
    assert!(
        market
            .last_callback_answer()
            .starts_with("A business with this name and address is already approved"),
        "{}",
        market.last_callback_answer()
    );
    let statuses: Vec<String> = sqlx::query_scalar("SELECT status FROM businesses ORDER BY id")
        .fetch_all(&market.stack.pool)
        .await?;
    assert_eq!(statuses, ["approved", "pending"]);
    let again = market.say(&admin, "/pending").await?;
    assert!(
        text(&again[0]).contains("Same name and address as:\n— approved:\nCorner Shop"),
        "{again:?}"
    );
    Ok(())
}

#[tokio::test]
async fn undecided_applications_are_warned_a_day_before_and_expire_after_fourteen_days() -> Result {
    let mut market = Marketplace::start().await?;
    let waiting = unique_user("Eva");
    let forgotten = unique_user("Fin");
    market.register(&waiting, "Eva's Deli").await?;
    market.register(&forgotten, "Fin's Fish").await?;
    sqlx::query(
        "UPDATE businesses SET created_at = now() - CASE name
             WHEN 'Eva''s Deli' THEN interval '13 days 2 hours' ELSE interval '15 days' END",
    )
    .execute(&market.stack.pool)
    .await?;

    // The job runs when the bot starts (and every few minutes after).
    market.kill9_and_restart().await?;
    market
        .wait_for_text(
            waiting.id,
            "⏳ Your application for Eva's Deli has waited 13 days",
        )
        .await?;
    let expired = market
        .wait_for_text(forgotten.id, "Fin's Fish was not approved")
        .await?;
    assert!(
        text(&expired).contains("No admin decided within 14 days"),
        "{expired}"
    );
    let statuses: Vec<(String, String)> =
        sqlx::query_as("SELECT name, status FROM businesses ORDER BY id")
            .fetch_all(&market.stack.pool)
            .await?;
    assert_eq!(
        statuses,
        [
            ("Eva's Deli".to_owned(), "pending".to_owned()),
            ("Fin's Fish".to_owned(), "rejected".to_owned())
        ]
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'business.application_expired'",
    )
    .fetch_one(&market.stack.pool)
    .await?;
    assert_eq!(audited, 1);

    // Its name and address are free again: the same owner applies anew.
    market.register(&forgotten, "Fin's Fish").await?;
    Ok(())
}
