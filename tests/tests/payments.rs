//! Paying in the chat end to end: the real bot binary, the Telegram fake (invoices,
//! pre-checkout, successful payments) and the Stripe fake (refunds, signed webhook events), all
//! over HTTP against real PostgreSQL.

use std::time::Duration;

use serde_json::json;
use toogoodtogo_tests::driver::TestUser;
use toogoodtogo_tests::harness::unique_user;
use toogoodtogo_tests::market::{Marketplace, Result, button, text};
use toogoodtogo_tests::paying::{API_KEY, NEAR, PayingShop, WEBHOOK_SECRET};
use toogoodtogo_tests::stripe_fake::{StripeFake, unix_now};

#[tokio::test]
async fn a_customer_pays_in_the_chat_and_picks_up() -> Result {
    let mut shop = PayingShop::start("both", 5).await?;
    let (customer, selector) = shop.selector("Carl").await?;
    assert!(
        button(&selector, "Pay EUR 4.50 now").is_some(),
        "{selector}"
    );
    assert!(
        button(&selector, "Reserve 1").is_some(),
        "both ways to pay: {selector}"
    );

    let invoice = shop.pay_now(&customer, &selector).await?;
    assert_eq!(invoice["total_amount"], json!(450));
    assert_eq!(invoice["currency"], json!("EUR"));
    assert_eq!(invoice["provider_token"], json!("284685063:TEST:provider"));
    assert!(
        invoice["payload"]
            .as_str()
            .unwrap_or("")
            .starts_with("hold:")
    );
    assert!(
        shop.market
            .current_text(customer.id, &selector)
            .contains("pay within 15 minutes")
    );
    let (_, state, payment) = shop.reservation(&customer).await?;
    assert_eq!(
        (state.as_str(), payment.as_str()),
        ("PENDING_PAYMENT", "PENDING")
    );
    assert_eq!(shop.units().await?.1, 4, "the unit is held");

    let listed = shop.market.ask(&customer, "/my_reservations").await?;
    assert!(listed.contains("is held for you until"), "{listed}");

    let answer = shop.pre_checkout(&customer, &invoice).await?;
    assert_eq!(answer["ok"], json!(true), "{answer}");
    shop.paid(&customer, &invoice, "ch_happy").await?;
    let confirmation = shop
        .market
        .wait_for_text(customer.id, "Paid: EUR 4.50")
        .await?;
    let (_, state, payment) = shop.reservation(&customer).await?;
    assert_eq!((state.as_str(), payment.as_str()), ("CONFIRMED", "PAID"));

    // Telegram redelivers the payment as a new update: recorded once, confirmed once.
    let again = shop.paid(&customer, &invoice, "ch_happy").await?;
    assert!(again.is_empty(), "no second confirmation: {again:?}");
    let payments: i64 = sqlx::query_scalar("SELECT count(*) FROM payments")
        .fetch_one(&shop.market.stack.pool)
        .await?;
    assert_eq!(payments, 1);
    let queued: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbound_messages WHERE chat_id = $1 AND payload->>'text' LIKE '%Paid: EUR 4.50%'",
    )
    .bind(customer.id)
    .fetch_one(&shop.market.stack.pool)
    .await?;
    assert_eq!(queued, 1, "one confirmation");

    let owner = shop.owner.clone();
    shop.market
        .wait_for_text(owner.id, "New reservation")
        .await?;
    let code = text(&confirmation)
        .split("Pickup code: ")
        .nth(1)
        .map(|rest| rest.chars().take(6).collect::<String>())
        .ok_or("no code")?;
    let reply = shop.market.ask(&owner, &code).await?;
    assert!(reply.contains("picked up"), "{reply}");
    Ok(())
}

#[tokio::test]
async fn pre_checkout_refuses_an_expired_hold_and_a_changed_price_and_releases_the_units() -> Result
{
    let mut shop = PayingShop::start("in_app", 5).await?;
    let (customer, selector) = shop.selector("Carl").await?;
    assert!(
        button(&selector, "Reserve 1").is_none(),
        "in-app only: {selector}"
    );
    let invoice = shop.pay_now(&customer, &selector).await?;
    sqlx::query("UPDATE reservations SET hold_expires_at = now() - interval '1 minute'")
        .execute(&shop.market.stack.pool)
        .await?;
    let answer = shop.pre_checkout(&customer, &invoice).await?;
    assert_eq!(answer["ok"], json!(false));
    assert!(
        answer["error_message"]
            .as_str()
            .unwrap_or("")
            .contains("hold expired"),
        "{answer}"
    );
    let (_, state, _) = shop.reservation(&customer).await?;
    assert_eq!(state, "EXPIRED");
    assert_eq!(shop.units().await?.1, 5, "the held unit is back");

    let (customer, selector) = shop.selector("Dora").await?;
    let invoice = shop.pay_now(&customer, &selector).await?;
    sqlx::query("UPDATE offers SET price_minor = 500 WHERE id = $1")
        .bind(shop.offer)
        .execute(&shop.market.stack.pool)
        .await?;
    let answer = shop.pre_checkout(&customer, &invoice).await?;
    assert_eq!(answer["ok"], json!(false));
    assert!(
        answer["error_message"]
            .as_str()
            .unwrap_or("")
            .contains("price of this deal changed"),
        "{answer}"
    );
    assert_eq!(shop.reservation(&customer).await?.1, "CANCELLED");
    assert_eq!(shop.units().await?.1, 5);

    // A payload that names no hold of this customer.
    let forged = json!({ "payload": "hold:999999", "total_amount": 450 });
    let answer = shop.pre_checkout(&customer, &forged).await?;
    assert_eq!(answer["ok"], json!(false));
    Ok(())
}

/// Lets a hold lapse as the job would: EXPIRED, units back.
async fn lapse(shop: &PayingShop, customer: &TestUser) -> Result {
    let pool = &shop.market.stack.pool;
    sqlx::query(
        "UPDATE reservations SET state = 'EXPIRED', payment_status = 'NONE'
         WHERE customer_id = $1 AND state = 'PENDING_PAYMENT'",
    )
    .bind(customer.id)
    .execute(pool)
    .await?;
    sqlx::query(
        "UPDATE offers SET units_available = units_available + 1,
             state = CASE WHEN state = 'SOLD_OUT' THEN 'ACTIVE' ELSE state END
         WHERE id = $1",
    )
    .bind(shop.offer)
    .execute(pool)
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_late_payment_is_re_reserved_when_units_remain_and_refunded_when_sold_out() -> Result {
    let mut shop = PayingShop::start("both", 1).await?;
    let (early, selector) = shop.selector("Early").await?;
    let invoice = shop.pay_now(&early, &selector).await?;
    assert_eq!(shop.units().await?, ("SOLD_OUT".to_owned(), 0));
    lapse(&shop, &early).await?;
    shop.paid(&early, &invoice, "ch_late_ok").await?;
    shop.market
        .wait_for_text(early.id, "Paid: EUR 4.50")
        .await?;
    assert_eq!(shop.reservation(&early).await?.1, "CONFIRMED");
    assert_eq!(shop.units().await?, ("SOLD_OUT".to_owned(), 0));

    // The same again, but someone else takes the unit meanwhile.
    sqlx::query("UPDATE offers SET units_available = 1, state = 'ACTIVE' WHERE id = $1")
        .bind(shop.offer)
        .execute(&shop.market.stack.pool)
        .await?;
    let (late, selector) = shop.selector("Late").await?;
    let invoice = shop.pay_now(&late, &selector).await?;
    lapse(&shop, &late).await?;
    let (other, selector) = shop.selector("Other").await?;
    shop.market.press(&other, &selector, "Reserve 1").await?;
    shop.paid(&late, &invoice, "ch_late_refund").await?;
    let notice = shop
        .market
        .wait_for_text(late.id, "is being refunded in full")
        .await?;
    assert!(text(&notice).contains("after your hold lapsed"), "{notice}");
    shop.wait_for_payment_status(&late, "REFUNDED").await?;
    shop.market.wait_for_text(late.id, "is complete").await?;
    assert_eq!(shop.stripe.refunds().len(), 1);
    assert_eq!(shop.stripe.amount_refunded("ch_late_refund"), Some(450));
    Ok(())
}

#[tokio::test]
async fn cancelling_a_paid_reservation_refunds_it_once_through_stripe_errors() -> Result {
    let mut shop = PayingShop::start("in_app", 5).await?;
    let (customer, selector) = shop.selector("Carl").await?;
    let invoice = shop.pay_now(&customer, &selector).await?;
    shop.pre_checkout(&customer, &invoice).await?;
    shop.paid(&customer, &invoice, "ch_cancel").await?;
    shop.stripe.fail_next(2, 500);

    let upcoming = shop
        .market
        .say(&customer, "/my_reservations")
        .await?
        .last()
        .cloned()
        .ok_or("no reservation")?;
    shop.market
        .press(&customer, &upcoming, "Cancel reservation")
        .await?;
    shop.market
        .press(&customer, &upcoming, "Yes, cancel it")
        .await?;
    let cancelled = shop.market.current_text(customer.id, &upcoming);
    assert!(
        cancelled.contains("EUR 4.50 is being refunded"),
        "{cancelled}"
    );
    assert_eq!(shop.reservation(&customer).await?.2, "REFUND_PENDING");
    assert_eq!(shop.units().await?.1, 5, "the unit is back on offer");

    shop.wait_for_payment_status(&customer, "REFUNDED").await?;
    assert_eq!(shop.stripe.refunds().len(), 1, "one refund");
    let requests: Vec<_> = shop
        .stripe
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/refunds")
        .collect();
    assert!(
        requests.len() >= 3,
        "two failures, then success: {requests:?}"
    );
    let keys: std::collections::BTreeSet<_> =
        requests.iter().map(|r| r.idempotency_key.clone()).collect();
    assert_eq!(
        keys.len(),
        1,
        "every attempt carries the same Idempotency-Key"
    );
    let retries: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = 'refund.attempted'")
            .fetch_one(&shop.market.stack.pool)
            .await?;
    assert!(retries >= 3, "each attempt is audited");
    shop.market
        .wait_for_text(customer.id, "is complete")
        .await?;
    Ok(())
}

#[tokio::test]
async fn the_stripe_webhook_finishes_pending_refunds_once_and_refuses_bad_signatures() -> Result {
    let mut shop = PayingShop::start("in_app", 5).await?;
    shop.stripe.set_refund_status("pending");
    let (customer, selector) = shop.selector("Carl").await?;
    let invoice = shop.pay_now(&customer, &selector).await?;
    shop.pre_checkout(&customer, &invoice).await?;
    shop.paid(&customer, &invoice, "ch_hook").await?;
    let owner = shop.owner.clone();
    let replies = shop.market.say(&owner, "/myoffers").await?;
    let card = replies
        .iter()
        .find(|m| text(m).contains("Surprise bag"))
        .cloned()
        .ok_or("no card")?;
    let replies = shop.market.press(&owner, &card, "Reservations").await?;
    let list = replies
        .iter()
        .find(|m| button(m, "Refund #").is_some())
        .cloned()
        .ok_or_else(|| format!("no reservation list with a refund button: {replies:?}"))?;
    shop.market.press(&owner, &list, "Refund #").await?;
    shop.market.press(&owner, &list, "Yes, refund").await?;
    shop.market
        .wait_for_text(customer.id, "refunded order")
        .await?;

    // Stripe accepted the refund as pending: the reservation waits for the webhook.
    let refund_id = shop.pending_refund_id().await?;
    assert_eq!(shop.reservation(&customer).await?.2, "REFUND_PENDING");

    let object = shop
        .stripe
        .update_refund(&refund_id, "succeeded")
        .ok_or("unknown refund")?;
    let event = StripeFake::event("evt_1", "refund.updated", object);
    let url = shop.market.bot.url("/stripe/webhook");
    let stale = StripeFake::send_event(&url, WEBHOOK_SECRET, &event, unix_now() - 600).await?;
    assert_eq!(stale.as_u16(), 400, "stale signature");
    let wrong = StripeFake::send_event(&url, "whsec_wrong", &event, unix_now()).await?;
    assert_eq!(wrong.as_u16(), 400, "wrong secret");
    let unsigned = StripeFake::post_webhook(&url, &event, None).await?;
    assert_eq!(unsigned.as_u16(), 400, "no signature");
    assert_eq!(shop.reservation(&customer).await?.2, "REFUND_PENDING");

    let ok = StripeFake::send_event(&url, WEBHOOK_SECRET, &event, unix_now()).await?;
    assert_eq!(ok.as_u16(), 200);
    assert_eq!(shop.reservation(&customer).await?.2, "REFUNDED");
    let again = StripeFake::send_event(&url, WEBHOOK_SECRET, &event, unix_now()).await?;
    assert_eq!(again.as_u16(), 200, "a redelivery is acknowledged");
    shop.market
        .wait_for_text(customer.id, "is complete")
        .await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        shop.market.count_messages(customer.id, "is complete"),
        1,
        "told once"
    );
    let (state,): (String,) =
        sqlx::query_as("SELECT state FROM reservations WHERE customer_id = $1")
            .bind(customer.id)
            .fetch_one(&shop.market.stack.pool)
            .await?;
    assert_eq!(
        state, "CANCELLED",
        "a refunded confirmed reservation is cancelled"
    );
    Ok(())
}

#[tokio::test]
async fn without_payment_setup_or_in_app_mode_there_is_no_pay_button() -> Result {
    // Payments set up, but the shop takes money at the counter only.
    let mut shop = PayingShop::start("on_site", 5).await?;
    let (_, selector) = shop.selector("Carl").await?;
    assert!(button(&selector, "now").is_none(), "{selector}");
    assert!(button(&selector, "Reserve 1").is_some());

    // No Stripe configuration at all: an in-app shop explains instead of crashing.
    let mut market = Marketplace::start().await?;
    let owner = unique_user("Otto");
    let business = market
        .seeded_business(&owner, "Otto's Deli", NEAR.0, NEAR.1)
        .await?;
    sqlx::query("UPDATE businesses SET payment_mode = 'in_app' WHERE id = $1")
        .bind(business)
        .execute(&market.stack.pool)
        .await?;
    let offer = market
        .seeded_offer(business, "Deli box", 3, 30, 150)
        .await?;
    let customer = unique_user("Dora");
    let selector = market.open_selector(&customer, offer).await?;
    assert!(
        text(&selector).contains("not available right now"),
        "{selector}"
    );
    assert!(button(&selector, "now").is_none());
    assert!(button(&selector, "Reserve 1").is_none());
    let health = market.bot.get("/health").await?;
    assert_eq!(
        health.status().as_u16(),
        200,
        "health does not depend on Stripe"
    );
    Ok(())
}

#[tokio::test]
async fn payments_check_proves_the_stripe_key_after_a_rotation() -> Result {
    let stripe = StripeFake::start(API_KEY).await?;
    let vars = |key: &str| {
        std::collections::BTreeMap::from([
            (
                "STRIPE_PROVIDER_TOKEN".to_owned(),
                "284685063:TEST:provider".to_owned(),
            ),
            ("STRIPE_API_KEY".to_owned(), key.to_owned()),
            ("STRIPE_API_URL".to_owned(), stripe.url()),
        ])
    };
    let good = toogoodtogo_tests::harness::run_command(&["payments-check"], &vars(API_KEY)).await?;
    assert_eq!(good.code, Some(0), "{}{}", good.stdout, good.stderr);
    assert!(
        good.stdout.contains("STRIPE_API_KEY: accepted"),
        "{}",
        good.stdout
    );
    assert!(good.stdout.contains("payments: ready"), "{}", good.stdout);
    assert!(!good.stdout.contains(API_KEY), "the key is never printed");

    let stale =
        toogoodtogo_tests::harness::run_command(&["payments-check"], &vars("sk_test_old")).await?;
    assert_eq!(stale.code, Some(1), "{}", stale.stdout);
    assert!(
        stale.stdout.contains("STRIPE_API_KEY: refused"),
        "{}",
        stale.stdout
    );
    assert!(stale.stdout.contains("Invalid API Key"), "{}", stale.stdout);
    assert!(
        stale.stdout.contains("payments: NOT ready"),
        "{}",
        stale.stdout
    );
    assert!(stripe.refunds().is_empty(), "a check moves no money");
    Ok(())
}
