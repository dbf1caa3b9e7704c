//! The money promise under faults: every charge ends either in goods handed over or in a refund,
//! and the customer is told which — whatever Telegram, Stripe or the process does in between.
//!
//! Two parts, both running the real bot binary against the Telegram and Stripe fakes:
//! - `scenario_*`: one test per way the promise was found broken;
//! - `cell_<step>__<fault>`: the fault matrix. Each cell runs the whole pay flow (invoice,
//!   pre-checkout, successful_payment, confirmation, cancellation, refund, Stripe's webhook)
//!   with one fault injected at one step, then checks the money invariant
//!   ([`PayingShop::assert_money_invariant`]).

use std::time::Duration;

use serde_json::{Value, json};
use toogoodtogo_tests::harness::{eventually, run_command};
use toogoodtogo_tests::market::{Result, button, text};
use toogoodtogo_tests::paying::{PayingShop, WAIT, WEBHOOK_SECRET};
use toogoodtogo_tests::stripe_fake::{StripeFake, unix_now};
use toogoodtogo_tests::telegram_fake::{FakeTelegram, Injected};

fn server_error() -> Injected {
    Injected::Error {
        code: 502,
        description: "Bad Gateway".to_owned(),
    }
}

async fn payments_of(shop: &PayingShop, charge: &str) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM payments WHERE provider_payment_charge_id = $1")
            .bind(charge)
            .fetch_one(&shop.market.stack.pool)
            .await?,
    )
}

/// Telegram failing to deliver the confirmation once delayed it; it used to undo the record
/// of the charge (and, after five failures, lose it).
#[tokio::test]
async fn scenario_1_a_charge_is_recorded_even_when_its_confirmation_cannot_be_sent() -> Result {
    let mut shop = PayingShop::start("in_app", 5).await?;
    let (carl, invoice) = shop.invoiced("Carl").await?;
    let answer = shop.pre_checkout(&carl, &invoice).await?;
    assert_eq!(answer["ok"], json!(true), "{answer}");
    shop.market
        .stack
        .fake
        .inject("sendMessage", Some(carl.id), server_error());
    let update = shop.payment_update(&carl, &invoice, "ch_s1");
    shop.market.deliver(update).await?;
    // Processed on the first attempt: the charge is on record although Telegram failed.
    assert_eq!(payments_of(&shop, "ch_s1").await?, 1);
    let (_, state, status) = shop.reservation(&carl).await?;
    assert_eq!((state.as_str(), status.as_str()), ("CONFIRMED", "PAID"));
    shop.market.wait_for_text(carl.id, "Pickup code").await?;
    shop.assert_money_invariant(&[(&carl, "ch_s1")]).await
}

/// A successful_payment with a field the library cannot read (here a date in another format)
/// used to be kept as undecodable and its money never recorded.
#[tokio::test]
async fn a_payment_the_library_cannot_fully_read_is_still_recorded_and_confirmed() -> Result {
    let mut shop = PayingShop::start("in_app", 5).await?;
    let (dora, invoice) = shop.invoiced("Dora").await?;
    let answer = shop.pre_checkout(&dora, &invoice).await?;
    assert_eq!(answer["ok"], json!(true), "{answer}");
    let mut update = shop.payment_update(&dora, &invoice, "ch_unreadable");
    update["message"]["date"] = json!("2026-12-07T17:00:00Z");
    update["message"]["successful_payment"]["subscription_expiration_date"] = json!("never");
    shop.market.deliver(update).await?;
    assert!(
        shop.market
            .bot
            .log()
            .contains("handled from its essentials"),
        "the library read the whole update; the test needs one it cannot read"
    );
    assert_eq!(payments_of(&shop, "ch_unreadable").await?, 1);
    let (_, state, status) = shop.reservation(&dora).await?;
    assert_eq!((state.as_str(), status.as_str()), ("CONFIRMED", "PAID"));
    shop.market.wait_for_text(dora.id, "Pickup code").await?;
    shop.assert_money_invariant(&[(&dora, "ch_unreadable")])
        .await
}

/// A forwarded invoice or a second device can pay a hold twice: the second charge is refunded
/// on its own and the customer told why; the first keeps the order.
#[tokio::test]
async fn scenario_2_a_second_charge_for_one_hold_is_refunded_and_explained() -> Result {
    let mut shop = PayingShop::start("in_app", 5).await?;
    let (carl, invoice) = shop.invoiced("Carl").await?;
    assert_eq!(
        invoice["start_parameter"],
        json!(format!("offer_{}", shop.offer)),
        "forwarded copies link to the deal instead of paying this hold: {invoice}"
    );
    let first = shop.pre_checkout(&carl, &invoice).await?;
    assert_eq!(first["ok"], json!(true), "{first}");
    let second = shop.pre_checkout(&carl, &invoice).await?;
    assert_eq!(
        second["ok"],
        json!(false),
        "a payment is in flight: {second}"
    );
    assert!(
        second["error_message"]
            .as_str()
            .unwrap_or("")
            .contains("already on its way"),
        "{second}"
    );

    shop.paid(&carl, &invoice, "ch_s2_first").await?;
    shop.market.wait_for_text(carl.id, "Pickup code").await?;
    // The second device's charge went through Telegram anyway.
    shop.paid(&carl, &invoice, "ch_s2_second").await?;
    let notice = shop
        .market
        .wait_for_text(carl.id, "already paid (it was paid twice)")
        .await?;
    assert!(text(&notice).contains("refunded in full"), "{notice}");
    let (_, state, status) = shop.reservation(&carl).await?;
    assert_eq!(
        (state.as_str(), status.as_str()),
        ("CONFIRMED", "PAID"),
        "the order keeps its first payment"
    );
    shop.wait_for_refunds(1).await?;
    assert_eq!(shop.stripe.amount_refunded("ch_s2_second"), Some(450));
    assert_eq!(shop.stripe.amount_refunded("ch_s2_first"), Some(0));
    shop.market.wait_for_text(carl.id, "is complete").await?;
    let after = shop.pre_checkout(&carl, &invoice).await?;
    assert_eq!(after["ok"], json!(false), "paid holds cannot be paid again");
    shop.assert_money_invariant(&[(&carl, "ch_s2_first"), (&carl, "ch_s2_second")])
        .await
}

/// The owner's /myoffers card of the deal.
async fn owner_card(shop: &mut PayingShop) -> Result<Value> {
    let owner = shop.owner.clone();
    let replies = shop.market.say(&owner, "/myoffers").await?;
    replies
        .iter()
        .find(|m| text(m).contains("Surprise bag"))
        .cloned()
        .ok_or_else(|| "no card".into())
}

/// The owner opens the deal's edit menu and picks a field; returns the message to answer.
async fn edit_field(shop: &mut PayingShop, field: &str) -> Result<Value> {
    let owner = shop.owner.clone();
    let card = owner_card(shop).await?;
    shop.market.press(&owner, &card, "Edit").await?;
    let menu = shop.market.current(owner.id, &card);
    shop.market.press(&owner, &menu, field).await?;
    Ok(menu)
}

/// A business moving the pickup window used to let the no-show job keep paid orders its
/// customers were never told about; ending the deal early left paid orders in place.
#[tokio::test]
async fn scenario_3_business_edits_cannot_forfeit_paid_orders() -> Result {
    let mut shop = PayingShop::start("in_app", 5).await?;
    let (carl, invoice) = shop.invoiced("Carl").await?;
    shop.pre_checkout(&carl, &invoice).await?;
    shop.paid(&carl, &invoice, "ch_s3").await?;
    shop.market.wait_for_text(carl.id, "Pickup code").await?;
    let window = |shop: &PayingShop| {
        let pool = shop.market.stack.pool.clone();
        let offer = shop.offer;
        async move {
            sqlx::query_as::<_, (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>(
                "SELECT pickup_start, pickup_end FROM offers WHERE id = $1",
            )
            .bind(offer)
            .fetch_one(&pool)
            .await
        }
    };
    let before = window(&shop).await?;

    edit_field(&mut shop, "window").await?;
    let owner = shop.owner.clone();
    let reply = shop.market.ask(&owner, "tomorrow 10:00-10:30").await?;
    assert!(reply.contains("can only be widened"), "{reply}");
    assert_eq!(window(&shop).await?, before, "the window did not move");

    // Ending the deal early cancels the paid order and refunds it.
    let card = owner_card(&mut shop).await?;
    shop.market.press(&owner, &card, "End").await?;
    let question = shop.market.current_text(owner.id, &card);
    assert!(
        question.contains("1 paid one(s) are refunded in full"),
        "{question}"
    );
    shop.market.press(&owner, &card, "Yes").await?;
    let notice = shop.market.wait_for_text(carl.id, "early").await?;
    assert!(text(&notice).contains("being refunded in full"), "{notice}");
    shop.wait_for_payment_status(&carl, "REFUNDED").await?;
    assert_eq!(shop.reservation(&carl).await?.1, "CANCELLED");
    assert_eq!(shop.stripe.amount_refunded("ch_s3"), Some(450));
    shop.assert_money_invariant(&[(&carl, "ch_s3")]).await
}

/// Telegram refuses invoices outside its per-currency limits: no [Pay now] for such amounts,
/// and a refused invoice tells the customer and releases the hold (it used to be retried five
/// times and dropped without a word).
#[tokio::test]
async fn scenario_4_amounts_telegram_will_not_invoice_are_never_left_hanging() -> Result {
    let mut cheap = PayingShop::start_priced("both", 5, 50).await?;
    let (_, selector) = cheap.selector("Carl").await?;
    assert!(
        button(&selector, "now").is_none(),
        "EUR 0.50 is below Telegram's minimum: {selector}"
    );
    assert!(button(&selector, "Reserve 1").is_some(), "{selector}");

    let mut shop = PayingShop::start("in_app", 5).await?;
    let (dora, selector) = shop.selector("Dora").await?;
    shop.market.stack.fake.inject(
        "sendInvoice",
        Some(dora.id),
        Injected::Error {
            code: 400,
            description: "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID".to_owned(),
        },
    );
    shop.market.press(&dora, &selector, "now").await?;
    let shown = shop.market.current_text(dora.id, &selector);
    assert!(
        shown.contains("Paying in the chat is not possible"),
        "{shown}"
    );
    assert_eq!(shop.reservation(&dora).await?.1, "CANCELLED");
    assert_eq!(
        shop.units().await?,
        ("ACTIVE".to_owned(), 5),
        "the units are back"
    );
    Ok(())
}

/// A partial refund made in Stripe's dashboard is shown as partial; it used to mark the bot's
/// own full refund as succeeded and tell the customer everything came back.
#[tokio::test]
async fn scenario_6_a_partial_refund_is_reported_as_partial() -> Result {
    let mut shop = PayingShop::start("in_app", 5).await?;
    shop.stripe.set_refund_status("pending");
    let (carl, invoice) = shop.invoiced("Carl").await?;
    shop.pre_checkout(&carl, &invoice).await?;
    shop.paid(&carl, &invoice, "ch_s6").await?;
    shop.market.wait_for_text(carl.id, "Pickup code").await?;
    let url = shop.market.bot.url("/stripe/webhook");

    // Somebody refunds EUR 2.00 from Stripe's dashboard.
    let partial = json!({
        "id": "re_dashboard", "object": "refund", "charge": "ch_s6", "amount": 200,
        "currency": "eur", "status": "succeeded",
    });
    let event = StripeFake::event("evt_s6_partial", "refund.updated", partial);
    let status = StripeFake::send_event(&url, WEBHOOK_SECRET, &event, unix_now()).await?;
    assert_eq!(status.as_u16(), 200);
    let notice = shop
        .market
        .wait_for_text(carl.id, "of your payment of EUR 4.50")
        .await?;
    assert!(text(&notice).contains("EUR 2.00"), "{notice}");
    shop.market
        .wait_for_text(shop.market.admin.id, "Partial refund: EUR 2.00 of EUR 4.50")
        .await?;
    assert_eq!(shop.reservation(&carl).await?.2, "PARTIALLY_REFUNDED");
    let refunded: i64 = sqlx::query_scalar(
        "SELECT refunded_minor FROM payments WHERE provider_payment_charge_id = 'ch_s6'",
    )
    .fetch_one(&shop.market.stack.pool)
    .await?;
    assert_eq!(refunded, 200);

    // Our own refund is pending at Stripe while the dashboard refund comes in: it stays ours.
    let (dora, invoice) = shop.invoiced("Dora").await?;
    shop.pre_checkout(&dora, &invoice).await?;
    shop.paid(&dora, &invoice, "ch_s6_dora").await?;
    let upcoming = shop.market.wait_for_text(dora.id, "Pickup code").await?;
    shop.market
        .press(&dora, &upcoming, "Cancel reservation")
        .await?;
    shop.market
        .press(&dora, &upcoming, "Yes, cancel it")
        .await?;
    let ours = shop.pending_refund_id().await?;
    let partial = json!({
        "id": "re_dashboard_dora", "object": "refund", "charge": "ch_s6_dora", "amount": 100,
        "currency": "eur", "status": "succeeded",
    });
    let event = StripeFake::event("evt_s6_dora", "refund.updated", partial);
    StripeFake::send_event(&url, WEBHOOK_SECRET, &event, unix_now()).await?;
    let status: String =
        sqlx::query_scalar("SELECT status FROM refunds WHERE stripe_refund_id = $1")
            .bind(&ours)
            .fetch_one(&shop.market.stack.pool)
            .await?;
    assert_eq!(status, "pending", "a dashboard refund does not end ours");
    assert_eq!(shop.market.count_messages(dora.id, "is complete"), 0);

    let object = shop
        .stripe
        .update_refund(&ours, "succeeded")
        .ok_or("unknown refund")?;
    let event = StripeFake::event("evt_s6_ours", "refund.updated", object);
    StripeFake::send_event(&url, WEBHOOK_SECRET, &event, unix_now()).await?;
    shop.wait_for_payment_status(&dora, "REFUNDED").await?;
    shop.market.wait_for_text(dora.id, "is complete").await?;
    Ok(())
}

/// A payment for no hold of the payer's used to be logged and left alone: now it is recorded,
/// refunded, explained to the payer and listed for the admins, who can retry a failed refund.
#[tokio::test]
async fn scenario_7_money_for_an_unknown_hold_is_refunded_and_shown_to_admins() -> Result {
    let mut shop = PayingShop::start("in_app", 5).await?;
    let carl = toogoodtogo_tests::harness::unique_user("Carl");
    // Stripe refuses the first refund for good (a client error is not retried).
    shop.stripe.fail_next(1, 400);
    let forged = json!({ "payload": "hold:999999", "total_amount": 450 });
    shop.paid(&carl, &forged, "ch_s7").await?;
    let notice = shop
        .market
        .wait_for_text(carl.id, "does not belong to an order of yours")
        .await?;
    assert!(text(&notice).contains("refunded in full"), "{notice}");
    let admin = shop.market.admin.clone();
    shop.market
        .wait_for_text(
            admin.id,
            "Refund of EUR 4.50 (no order, charge ch_s7) failed",
        )
        .await?;
    shop.market
        .wait_for_text(carl.id, "could not refund your payment")
        .await?;

    let replies = shop.market.say(&admin, "/pending").await?;
    assert!(
        replies
            .iter()
            .any(|m| text(m).contains("Payments needing attention: 1")),
        "{replies:?}"
    );
    let entry = replies
        .iter()
        .find(|m| text(m).contains("charge ch_s7"))
        .cloned()
        .ok_or_else(|| format!("ch_s7 not listed: {replies:?}"))?;
    assert!(text(&entry).contains("refund FAILED"), "{entry}");
    shop.market
        .press(&admin, &entry, "Retry the refund")
        .await?;
    shop.wait_for_refunds(1).await?;
    assert_eq!(shop.stripe.amount_refunded("ch_s7"), Some(450));
    shop.market.wait_for_text(carl.id, "is complete").await?;
    let replies = shop.market.say(&admin, "/pending").await?;
    assert!(
        !replies.iter().any(|m| text(m).contains("ch_s7")),
        "a refunded charge needs nobody: {replies:?}"
    );
    shop.assert_money_invariant(&[(&carl, "ch_s7")]).await
}

/// Where in the pay flow a fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    InvoiceSent,
    PreCheckoutAnswered,
    PaymentStored,
    ConfirmationSent,
    RefundRequested,
    StripeRefundAnswered,
    StripeWebhookDelivered,
}

/// What goes wrong there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Telegram5xx,
    /// 429 with a retry_after longer than any reply waits inline.
    Telegram429Long,
    /// 429 with a short retry_after, waited out by the queue.
    Telegram429,
    /// The customer blocked the bot (403): the money is still accounted.
    TelegramForbidden,
    Stripe5xx,
    Stripe429,
    /// Stripe accepts the refund as pending; its webhook event finishes it.
    StripePending,
    /// Stripe accepts the refund as pending and it settles, but its webhook event never comes.
    StripeEventLost,
    /// SIGKILL right after the step, then a restart.
    Kill9,
    Duplicate,
    /// A forged event first, then the real one.
    BadSignature,
}

fn inject_telegram(fake: &FakeTelegram, chat: i64, method: &str, fault: Fault) {
    let injected = match fault {
        Fault::Telegram5xx => server_error(),
        Fault::Telegram429Long => Injected::RetryAfter(40),
        Fault::Telegram429 => Injected::RetryAfter(2),
        Fault::TelegramForbidden => Injected::Error {
            code: 403,
            description: "Forbidden: bot was blocked by the user".to_owned(),
        },
        _ => return,
    };
    fake.inject(method, Some(chat), injected);
}

/// Runs the whole pay flow with `fault` at `step`, then checks the money invariant.
async fn cell(step: Step, fault: Fault) -> Result {
    // Without its webhook event, a pending refund is looked up again after a second (instead
    // of ten minutes); with it, never before the event has done its work.
    let check_pending_after = if fault == Fault::StripeEventLost {
        "1"
    } else {
        "3600"
    };
    let mut shop = PayingShop::start_configured("in_app", 3, 450, |env| {
        env.set("PENDING_REFUND_CHECK_SECONDS", check_pending_after)
    })
    .await?;
    if step == Step::StripeRefundAnswered
        && matches!(fault, Fault::StripePending | Fault::StripeEventLost)
    {
        shop.stripe.set_refund_status("pending");
    }
    let (carl, selector) = shop.selector("Carl").await?;
    // Invoice: a failed sendInvoice fails the press, which is retried from the inbox.
    if step == Step::InvoiceSent {
        inject_telegram(&shop.market.stack.fake, carl.id, "sendInvoice", fault);
    }
    let invoice = shop.pay_now(&carl, &selector).await?;
    assert_eq!(
        shop.market.stack.fake.invoices(carl.id).len(),
        1,
        "one invoice"
    );

    // Pre-checkout: a failed answer is retried the same way.
    if step == Step::PreCheckoutAnswered {
        inject_telegram(
            &shop.market.stack.fake,
            carl.id,
            "answerPreCheckoutQuery",
            fault,
        );
    }
    let answer = shop.pre_checkout(&carl, &invoice).await?;
    assert_eq!(answer["ok"], json!(true), "{answer}");

    // Telegram takes the money.
    if step == Step::ConfirmationSent {
        inject_telegram(&shop.market.stack.fake, carl.id, "sendMessage", fault);
    }
    let payment = shop.payment_update(&carl, &invoice, "ch_cell");
    match (step, fault) {
        (Step::PaymentStored, Fault::Kill9) => {
            // The confirmation hangs at Telegram when the bot dies.
            shop.market
                .stack
                .fake
                .inject("sendMessage", Some(carl.id), Injected::Hang);
            shop.market.deliver(payment).await?;
            let fake = &shop.market.stack.fake;
            fake.wait_until(WAIT, || {
                fake.calls_of("sendMessage")
                    .iter()
                    .any(|c| {
                        c.params["chat_id"].as_i64() == Some(carl.id)
                            && c.params["text"]
                                .as_str()
                                .unwrap_or("")
                                .contains("Pickup code")
                    })
                    .then_some(())
            })
            .await
            .map_err(|()| "the confirmation never reached Telegram")?;
            shop.market.kill9_and_restart().await?;
        }
        (Step::PaymentStored, Fault::Duplicate) => {
            shop.market.deliver(payment.clone()).await?;
            // The same update again, then the same charge as a new update.
            let again = shop.market.bot.webhook().post(&payment).await?;
            assert!(again.is_success());
            let mut redelivered = payment;
            redelivered["update_id"] = json!(shop.market.stack.updates.next_update_id());
            shop.market.deliver(redelivered).await?;
        }
        _ => shop.market.deliver(payment).await?,
    }
    assert_eq!(payments_of(&shop, "ch_cell").await?, 1, "recorded once");
    let (_, state, status) = shop.reservation(&carl).await?;
    assert_eq!((state.as_str(), status.as_str()), ("CONFIRMED", "PAID"));
    if fault == Fault::TelegramForbidden {
        // Nobody to tell; the order stands, paid, and the queue dropped the message.
        shop.assert_accounted(&[(&carl, "ch_cell")]).await?;
        return Ok(());
    }
    if fault == Fault::Telegram429Long && step == Step::ConfirmationSent {
        // Delayed, never undone: the confirmation waits in the queue for Telegram's retry_after.
        let pool = shop.market.stack.pool.clone();
        let carl_id = carl.id;
        eventually(WAIT, || async {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM outbound_messages WHERE chat_id = $1
                   AND status = 'pending' AND retry_at > now() + interval '30 seconds'
                   AND payload->>'text' LIKE '%Pickup code%'",
            )
            .bind(carl_id)
            .fetch_one(&pool)
            .await
            .ok()?;
            (waiting == 1).then_some(())
        })
        .await
        .ok_or("the confirmation is not queued for after the retry_after")?;
        assert_eq!(shop.market.count_messages(carl.id, "Pickup code"), 0);
        shop.assert_accounted(&[(&carl, "ch_cell")]).await?;
        return Ok(());
    }
    let confirmation = shop.market.wait_for_text(carl.id, "Pickup code").await?;

    // The customer cancels: the refund is requested from Stripe.
    match (step, fault) {
        (Step::RefundRequested, Fault::Stripe5xx) => shop.stripe.fail_next(2, 503),
        (Step::RefundRequested, Fault::Stripe429) => shop.stripe.fail_next(2, 429),
        _ => {}
    }
    shop.market
        .press(&carl, &confirmation, "Cancel reservation")
        .await?;
    shop.market
        .press(&carl, &confirmation, "Yes, cancel it")
        .await?;
    if (step, fault) == (Step::StripeRefundAnswered, Fault::StripePending) {
        let refund_id = shop.pending_refund_id().await?;
        let object = shop
            .stripe
            .update_refund(&refund_id, "succeeded")
            .ok_or("unknown refund")?;
        let url = shop.market.bot.url("/stripe/webhook");
        let event = StripeFake::event("evt_cell", "refund.updated", object);
        let status = StripeFake::send_event(&url, WEBHOOK_SECRET, &event, unix_now()).await?;
        assert_eq!(status.as_u16(), 200);
    }
    if (step, fault) == (Step::StripeRefundAnswered, Fault::StripeEventLost) {
        // Settled at Stripe, and nobody tells the bot: it looks the refund up itself.
        let refund_id = shop.pending_refund_id().await?;
        shop.stripe
            .update_refund(&refund_id, "succeeded")
            .ok_or("unknown refund")?;
    }
    shop.wait_for_payment_status(&carl, "REFUNDED").await?;
    shop.wait_for_refunds(1).await?;
    assert_eq!(shop.stripe.refunds().len(), 1, "refunded once");
    assert_eq!(shop.stripe.amount_refunded("ch_cell"), Some(450));

    // Stripe's webhook reports the refund (again).
    if step == Step::StripeWebhookDelivered {
        let refund = shop.stripe.refunds().first().cloned().ok_or("no refund")?;
        let event = StripeFake::event("evt_cell_done", "refund.updated", refund);
        let url = shop.market.bot.url("/stripe/webhook");
        if fault == Fault::BadSignature {
            let forged = StripeFake::send_event(&url, "whsec_forged", &event, unix_now()).await?;
            assert_eq!(forged.as_u16(), 400);
        }
        for _ in 0..if fault == Fault::Duplicate { 2 } else { 1 } {
            let status = StripeFake::send_event(&url, WEBHOOK_SECRET, &event, unix_now()).await?;
            assert_eq!(status.as_u16(), 200);
        }
    }
    shop.market.wait_for_text(carl.id, "is complete").await?;
    // Nothing more arrives about this money.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(shop.market.count_messages(carl.id, "is complete"), 1);
    shop.assert_money_invariant(&[(&carl, "ch_cell")]).await
}

macro_rules! matrix {
    ($($name:ident: $step:ident x $fault:ident;)*) => {
        $(
            #[tokio::test]
            #[allow(non_snake_case)]
            async fn $name() -> Result {
                cell(Step::$step, Fault::$fault).await
            }
        )*
    };
}

matrix! {
    cell_invoice_sent__telegram_5xx: InvoiceSent x Telegram5xx;
    cell_invoice_sent__telegram_429_long: InvoiceSent x Telegram429Long;
    cell_pre_checkout_answered__telegram_5xx: PreCheckoutAnswered x Telegram5xx;
    cell_pre_checkout_answered__telegram_429_long: PreCheckoutAnswered x Telegram429Long;
    cell_payment_stored__kill9: PaymentStored x Kill9;
    cell_payment_stored__duplicate: PaymentStored x Duplicate;
    cell_confirmation_sent__telegram_5xx: ConfirmationSent x Telegram5xx;
    cell_confirmation_sent__telegram_429: ConfirmationSent x Telegram429;
    cell_confirmation_sent__telegram_429_long: ConfirmationSent x Telegram429Long;
    cell_confirmation_sent__telegram_forbidden: ConfirmationSent x TelegramForbidden;
    cell_refund_requested__stripe_5xx: RefundRequested x Stripe5xx;
    cell_refund_requested__stripe_429: RefundRequested x Stripe429;
    cell_stripe_refund_answered__pending: StripeRefundAnswered x StripePending;
    cell_stripe_refund_answered__event_lost: StripeRefundAnswered x StripeEventLost;
    cell_stripe_webhook_delivered__duplicate: StripeWebhookDelivered x Duplicate;
    cell_stripe_webhook_delivered__bad_signature: StripeWebhookDelivered x BadSignature;
}

/// The daily reconciliation finds what Stripe and the bot disagree on: a charge the bot never
/// recorded, and a refund made behind the bot's back; a day that matches passes.
#[tokio::test]
async fn reconciliation_reports_charges_and_refunds_the_bot_does_not_know() -> Result {
    let mut shop = PayingShop::start("in_app", 5).await?;
    let (carl, invoice) = shop.invoiced("Carl").await?;
    shop.pre_checkout(&carl, &invoice).await?;
    shop.paid(&carl, &invoice, "ch_recorded").await?;
    shop.market.wait_for_text(carl.id, "Pickup code").await?;
    let vars = |stripe: &StripeFake| {
        let env = &shop.market.env.vars;
        ["DATABASE_URL", "STRIPE_API_KEY", "STRIPE_API_URL"]
            .into_iter()
            .filter_map(|key| env.get(key).map(|v| (key.to_owned(), v.clone())))
            .chain([("STRIPE_API_URL".to_owned(), stripe.url())])
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let today = chrono::Utc::now().date_naive().to_string();
    let clean = run_command(
        &["reconcile-payments", "--day", &today],
        &vars(&shop.stripe),
    )
    .await?;
    assert_eq!(clean.code, Some(0), "{}{}", clean.stdout, clean.stderr);
    assert!(
        clean
            .stdout
            .contains("1 charge(s) at Stripe, 0 discrepancy(ies)"),
        "{}",
        clean.stdout
    );

    // Stripe took money the bot never heard of, and someone refunded EUR 1.00 in Stripe.
    shop.stripe.add_charge("ch_ghost", 700, "eur");
    let refund = reqwest::Client::new()
        .post(format!("{}/v1/refunds", shop.stripe.url()))
        .bearer_auth(toogoodtogo_tests::paying::API_KEY)
        .form(&[("charge", "ch_recorded"), ("amount", "100")])
        .send()
        .await?;
    assert!(refund.status().is_success());
    let found = run_command(
        &["reconcile-payments", "--day", &today],
        &vars(&shop.stripe),
    )
    .await?;
    assert_eq!(found.code, Some(1), "{}{}", found.stdout, found.stderr);
    assert!(
        found.stdout.contains("charge_not_recorded ch_ghost"),
        "{}",
        found.stdout
    );
    assert!(
        found.stdout.contains(
            "refunded_amount_differs ch_recorded: refunded per Stripe 100, per the bot 0"
        ),
        "{}",
        found.stdout
    );
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM payment_discrepancies")
        .fetch_one(&shop.market.stack.pool)
        .await?;
    assert_eq!(kept, 2);
    Ok(())
}
