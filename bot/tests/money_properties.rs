//! The money invariant under random interleavings, against real PostgreSQL: reservations,
//! holds, payments (first, duplicate, second device, unknown hold, wrong amount), cancellations,
//! lapsing holds, window edits, no-shows, business refunds and ending a deal early, in any
//! order, for one offer at a time. After every event:
//! - units sold + units held + units available = units posted (while the offer is open), with
//!   the units of orders a business refunded (it ran out) counted as withdrawn;
//! - every recorded charge either settles a paid order or has a refund, never both;
//! - a paid order has exactly one settling charge;
//! - no order became a no-show before the end of the window its customer reserved for.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use toogoodtogo_bot::marketplace::OfferState;
use toogoodtogo_bot::marketplace::window::PickupWindow;
use toogoodtogo_bot::store::payments::{self, ReceivedPayment};
use toogoodtogo_bot::store::{offers, reservations};

const CUSTOMERS: [i64; 3] = [100, 101, 102];
const OWNER: i64 = 1;
const CAP: i32 = 5;
const PRICE: i64 = 450;

/// How a charge relates to the hold it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charge {
    /// A new charge for the customer's latest hold.
    ForLatest,
    /// Telegram redelivers the customer's previous charge.
    Redelivered,
    /// A charge for a hold that does not exist.
    UnknownHold,
    /// A charge whose amount differs from the hold's.
    WrongAmount,
}

#[derive(Debug, Clone, Copy)]
enum Event {
    Reserve {
        customer: usize,
        quantity: i32,
    },
    Hold {
        customer: usize,
        quantity: i32,
    },
    Pay {
        customer: usize,
        charge: Charge,
    },
    Cancel {
        customer: usize,
    },
    /// Time passes; lapsed holds expire and ended windows turn confirmations into no-shows.
    Advance {
        minutes: i64,
    },
    /// The business tries to move the window by `shift` minutes and resize it by `resize`.
    EditWindow {
        shift: i64,
        resize: i64,
    },
    RefundByBusiness {
        customer: usize,
    },
    EndEarly,
}

fn event() -> impl Strategy<Value = Event> {
    let customer = 0..CUSTOMERS.len();
    let charge = prop_oneof![
        4 => Just(Charge::ForLatest),
        2 => Just(Charge::Redelivered),
        1 => Just(Charge::UnknownHold),
        1 => Just(Charge::WrongAmount),
    ];
    prop_oneof![
        3 => (customer.clone(), 1..3i32).prop_map(|(customer, quantity)| Event::Reserve { customer, quantity }),
        4 => (customer.clone(), 1..3i32).prop_map(|(customer, quantity)| Event::Hold { customer, quantity }),
        5 => (customer.clone(), charge).prop_map(|(customer, charge)| Event::Pay { customer, charge }),
        2 => customer.clone().prop_map(|customer| Event::Cancel { customer }),
        2 => (5..40i64).prop_map(|minutes| Event::Advance { minutes }),
        2 => (-60..60i64, -60..60i64).prop_map(|(shift, resize)| Event::EditWindow { shift, resize }),
        1 => customer.prop_map(|customer| Event::RefundByBusiness { customer }),
        1 => Just(Event::EndEarly),
    ]
}

/// One case: an offer of `units`, then the events.
fn scenario() -> impl Strategy<Value = (i32, Vec<Event>)> {
    (1..5i32, proptest::collection::vec(event(), 1..30))
}

struct Case {
    offer: i64,
    posted: i32,
    now: DateTime<Utc>,
    charges: u32,
    last_charge: HashMap<i64, (String, i64)>,
    /// The window end each reservation's customer reserved for.
    reserved_until: HashMap<i64, DateTime<Utc>>,
}

async fn seed_business(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query(
        "INSERT INTO users (telegram_id, first_name, language_code)
         SELECT id, 'User ' || id, 'en' FROM unnest($1::int8[]) AS id",
    )
    .bind(
        [OWNER]
            .iter()
            .chain(&CUSTOMERS)
            .copied()
            .collect::<Vec<_>>(),
    )
    .execute(pool)
    .await?;
    sqlx::query_scalar(
        "INSERT INTO businesses (owner_id, name, street, city, postal_code, latitude, longitude,
             status, payment_mode)
         VALUES ($1, 'Bakery Ada', 'Main Street 1', 'Berlin', '10115', 52.5, 13.4, 'approved',
                 'both')
         RETURNING id",
    )
    .bind(OWNER)
    .fetch_one(pool)
    .await
}

async fn seed_offer(
    pool: &PgPool,
    business: i64,
    units: i32,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO offers (business_id, category, title, description, pickup_start,
             pickup_end, units_available, price_minor, currency, created_by)
         VALUES ($1, 'bakery', 'Surprise bag', '', $2, $3, $4, $5, 'EUR', $6)
         RETURNING id",
    )
    .bind(business)
    .bind(now + Duration::hours(1))
    .bind(now + Duration::hours(3))
    .bind(units)
    .bind(PRICE)
    .bind(OWNER)
    .fetch_one(pool)
    .await
}

async fn latest_reservation(
    conn: &mut sqlx::PgConnection,
    offer: i64,
    customer: i64,
) -> sqlx::Result<Option<(i64, i64)>> {
    sqlx::query_as(
        "SELECT id, total_minor FROM reservations WHERE offer_id = $1 AND customer_id = $2
         ORDER BY id DESC LIMIT 1",
    )
    .bind(offer)
    .bind(customer)
    .fetch_optional(conn)
    .await
}

async fn apply(pool: &PgPool, case: &mut Case, event: Event) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    let now = case.now;
    match event {
        Event::Reserve { customer, quantity } => {
            let outcome =
                reservations::reserve(&mut tx, case.offer, CUSTOMERS[customer], quantity, CAP, now)
                    .await?;
            if let reservations::ReserveOutcome::Reserved { reservation_id, .. } = outcome {
                let end = offer_window(&mut tx, case.offer).await?.end;
                case.reserved_until.insert(reservation_id, end);
            }
        }
        Event::Hold { customer, quantity } => {
            let until = now + Duration::minutes(15);
            let outcome = reservations::hold(
                &mut tx,
                case.offer,
                CUSTOMERS[customer],
                quantity,
                CAP,
                now,
                until,
            )
            .await?;
            if let reservations::ReserveOutcome::Reserved { reservation_id, .. } = outcome {
                let end = offer_window(&mut tx, case.offer).await?.end;
                case.reserved_until.insert(reservation_id, end);
            }
        }
        Event::Pay { customer, charge } => {
            let payer = CUSTOMERS[customer];
            let latest = latest_reservation(&mut tx, case.offer, payer).await?;
            let (charge_id, reservation, amount) = match (charge, latest) {
                (Charge::Redelivered, _) => match case.last_charge.get(&payer) {
                    Some((id, reservation)) => (id.clone(), Some(*reservation), PRICE),
                    None => return Ok(()),
                },
                (Charge::UnknownHold, _) => (next_charge(case), Some(i64::MAX / 2), PRICE),
                (Charge::WrongAmount, Some((id, total))) => {
                    (next_charge(case), Some(id), total + 1)
                }
                (Charge::ForLatest, Some((id, total))) => (next_charge(case), Some(id), total),
                (_, None) => return Ok(()),
            };
            let amount = match (charge, reservation) {
                (Charge::Redelivered, Some(id)) => total_of(&mut tx, id).await?.unwrap_or(amount),
                _ => amount,
            };
            let payload = format!("hold:{}", reservation.unwrap_or(0));
            let received = ReceivedPayment {
                payer_id: payer,
                invoice_payload: &payload,
                telegram_charge_id: &format!("tg_{charge_id}"),
                provider_charge_id: &charge_id,
                amount_minor: amount,
                currency: "EUR",
            };
            payments::receive(&mut tx, &received, reservation, now).await?;
            if let Some(reservation) = reservation {
                case.last_charge.insert(payer, (charge_id, reservation));
            }
        }
        Event::Cancel { customer } => {
            let payer = CUSTOMERS[customer];
            if let Some((id, _)) = latest_reservation(&mut tx, case.offer, payer).await? {
                reservations::cancel(&mut tx, id, payer, now).await?;
            }
        }
        Event::Advance { minutes } => {
            case.now = now + Duration::minutes(minutes);
            reservations::expire_holds(&mut tx, case.now, 100).await?;
            reservations::mark_no_shows(&mut tx, case.now, 100).await?;
        }
        Event::EditWindow { shift, resize } => {
            let Some(offer) = offers::get(&mut tx, case.offer).await? else {
                return Ok(());
            };
            let start = offer.pickup_start + Duration::minutes(shift);
            let end = offer.pickup_end + Duration::minutes(shift + resize);
            if let Ok(window) = PickupWindow::new(start, end, now)
                && !offer.state().is_final()
            {
                offers::change_window(&mut tx, &offer, window).await?;
            }
        }
        Event::RefundByBusiness { customer } => {
            if let Some((id, _)) =
                latest_reservation(&mut tx, case.offer, CUSTOMERS[customer]).await?
            {
                payments::refund_by_business(&mut tx, id, OWNER, now).await?;
            }
        }
        Event::EndEarly => {
            let Some(offer) = offers::get(&mut tx, case.offer).await? else {
                return Ok(());
            };
            let state = offer.state();
            if let offers::StateChange::Applied =
                offers::change_state(&mut tx, case.offer, state, OfferState::ExpiredEarly).await?
            {
                reservations::cancel_for_ended_offer(&mut tx, case.offer, OWNER, now).await?;
            }
        }
    }
    tx.commit().await
}

fn next_charge(case: &mut Case) -> String {
    case.charges += 1;
    format!("ch_{}_{}", case.offer, case.charges)
}

async fn total_of(conn: &mut sqlx::PgConnection, reservation: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT total_minor FROM reservations WHERE id = $1")
        .bind(reservation)
        .fetch_optional(conn)
        .await
}

async fn offer_window(conn: &mut sqlx::PgConnection, offer: i64) -> sqlx::Result<PickupWindow> {
    let (start, end): (DateTime<Utc>, DateTime<Utc>) =
        sqlx::query_as("SELECT pickup_start, pickup_end FROM offers WHERE id = $1")
            .bind(offer)
            .fetch_one(conn)
            .await?;
    Ok(PickupWindow { start, end })
}

/// The invariant; `Err` says what broke.
async fn check(pool: &PgPool, case: &Case) -> Result<(), String> {
    let db = |e: sqlx::Error| e.to_string();
    // Units a business refunded out of a confirmed order are withdrawn (it ran out of them).
    let (state, sold, held, withdrawn, available): (String, i64, i64, i64, i32) = sqlx::query_as(
        "SELECT o.state,
                coalesce(sum(r.quantity) FILTER (
                    WHERE r.state IN ('CONFIRMED', 'PICKED_UP', 'NO_SHOW')), 0)::int8,
                coalesce(sum(r.quantity) FILTER (WHERE r.state = 'PENDING_PAYMENT'), 0)::int8,
                coalesce(sum(r.quantity) FILTER (
                    WHERE r.state = 'CANCELLED' AND EXISTS (
                        SELECT 1 FROM refunds f
                        WHERE f.reservation_id = r.id AND f.reason = 'refunded by the business'
                    )), 0)::int8,
                o.units_available
         FROM offers o LEFT JOIN reservations r ON r.offer_id = o.id
         WHERE o.id = $1 GROUP BY o.state, o.units_available",
    )
    .bind(case.offer)
    .fetch_one(pool)
    .await
    .map_err(db)?;
    let open = matches!(state.as_str(), "ACTIVE" | "PAUSED" | "SOLD_OUT");
    if open && sold + held + withdrawn + i64::from(available) != i64::from(case.posted) {
        return Err(format!(
            "units: {sold} sold + {held} held + {withdrawn} withdrawn + {available} available \
             != {} posted",
            case.posted
        ));
    }
    // Each charge of this case: settles a paid order xor has a refund.
    let broken: Vec<(String, bool, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT p.provider_payment_charge_id, p.settles, r.payment_status, f.status
         FROM payments p
         LEFT JOIN reservations r ON r.id = p.reservation_id
         LEFT JOIN refunds f ON f.payment_id = p.id
         WHERE p.provider_payment_charge_id LIKE 'ch_' || $1 || '_%'
           AND ((p.settles AND r.payment_status = 'PAID') = (f.id IS NOT NULL))",
    )
    .bind(case.offer.to_string())
    .fetch_all(pool)
    .await
    .map_err(db)?;
    if !broken.is_empty() {
        return Err(format!(
            "charges neither paying nor refunded (or both): {broken:?}"
        ));
    }
    // A paid order has exactly one settling charge and is an order, not a lapsed hold.
    let orphans: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT r.id, r.state, count(p.id) FROM reservations r
         LEFT JOIN payments p ON p.reservation_id = r.id AND p.settles
         WHERE r.offer_id = $1 AND r.payment_status <> 'NONE' AND r.payment_status <> 'PENDING'
         GROUP BY r.id, r.state
         HAVING count(p.id) <> 1
             OR (r.payment_status = 'PAID' AND r.state NOT IN ('CONFIRMED', 'PICKED_UP', 'NO_SHOW'))",
    )
    .bind(case.offer)
    .fetch_all(pool)
    .await
    .map_err(db)?;
    if !orphans.is_empty() {
        return Err(format!(
            "paid reservations without exactly one charge: {orphans:?}"
        ));
    }
    // No-shows only after the end their customers reserved for.
    let no_shows: Vec<(i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT r.id, o.pickup_end FROM reservations r JOIN offers o ON o.id = r.offer_id
         WHERE r.offer_id = $1 AND r.state = 'NO_SHOW'",
    )
    .bind(case.offer)
    .fetch_all(pool)
    .await
    .map_err(db)?;
    for (id, end) in no_shows {
        if let Some(reserved) = case.reserved_until.get(&id)
            && end < *reserved
        {
            return Err(format!(
                "reservation {id} became a no-show at a window ending {end}, before the {reserved} \
                 its customer reserved for"
            ));
        }
    }
    Ok(())
}

async fn run_case(
    pool: &PgPool,
    business: i64,
    units: i32,
    events: &[Event],
) -> Result<(), String> {
    let now = Utc::now();
    let offer = seed_offer(pool, business, units, now)
        .await
        .map_err(|e| e.to_string())?;
    let mut case = Case {
        offer,
        posted: units,
        now,
        charges: 0,
        last_charge: HashMap::new(),
        reserved_until: HashMap::new(),
    };
    for (step, event) in events.iter().enumerate() {
        apply(pool, &mut case, *event)
            .await
            .map_err(|e| format!("step {step} {event:?} failed: {e}"))?;
        check(pool, &case)
            .await
            .map_err(|e| format!("after step {step} {event:?}: {e}"))?;
    }
    Ok(())
}

#[sqlx::test(migrator = "toogoodtogo_bot::store::MIGRATOR")]
async fn the_money_invariant_holds_under_random_interleavings(pool: PgPool) -> sqlx::Result<()> {
    let business = seed_business(&pool).await?;
    let options = (*pool.connect_options()).clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let pool = runtime
            .block_on(
                PgPoolOptions::new()
                    .max_connections(2)
                    .connect_with(options),
            )
            .map_err(|e| e.to_string())?;
        let mut runner = TestRunner::new(Config {
            cases: 96,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&scenario(), |(units, events)| {
                runtime
                    .block_on(run_case(&pool, business, units, &events))
                    .map_err(TestCaseError::fail)
            })
            .map_err(|e| e.to_string())
    })
    .await;
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(failure)) => panic!("{failure}"),
        Err(join) => panic!("the property run panicked: {join}"),
    }
}
