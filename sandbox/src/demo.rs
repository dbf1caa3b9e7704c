//! Demo data, so that Browse shows results at once: approved businesses around the demo city
//! (Berlin, where the page's preset places are) with live offers whose pickup windows are
//! relative to the moment of seeding — some open now, some later today, one ending soon — plus
//! one application waiting for the admin. The bakery takes payment in the chat or at pickup and
//! the greengrocer only in the chat, so the Pay button shows (the sandbox's bot pays through the
//! Stripe fake); the others take payment at pickup.
//!
//! The simulated business owner owns the bakery nearest the customer's home place, so /myoffers
//! works for them straight away; the simulated customer has that place saved as their location,
//! so Nearby needs no location first. The other businesses belong to demo owners who are not on
//! the page. Everything is written through the bot's own store functions (registration, the
//! admin's approval, publishing an offer), so the rows are what the bot itself would write.

use chrono::{DateTime, Duration, Utc};
use sqlx::{Connection, PgConnection};
use toogoodtogo_bot::marketplace::geo::Point;
use toogoodtogo_bot::marketplace::payment::PaymentMode;
use toogoodtogo_bot::marketplace::window::PickupWindow;
use toogoodtogo_bot::marketplace::{Category, Invalid};
use toogoodtogo_bot::store::businesses::{self, BusinessStatus, NewBusiness, RegisterError};
use toogoodtogo_bot::store::customers;
use toogoodtogo_bot::store::offers::{self, NewOffer};
use toogoodtogo_bot::store::payments;
use toogoodtogo_bot::store::users::{self, Contact};

use crate::session::UserIds;
use crate::web::{DEMO_CITY, HOME_PLACE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoOutcome {
    /// `--demo-data=false`.
    Disabled,
    /// The `businesses`/`offers` tables do not exist (a bot binary older than the marketplace).
    TablesMissing,
    /// The database has the demo data already.
    AlreadySeeded,
    Seeded {
        businesses: usize,
        offers: usize,
        pending: usize,
    },
}

impl DemoOutcome {
    /// One line for the start-up report.
    pub fn describe(self, users: &UserIds) -> String {
        match self {
            Self::Disabled => "demo data: none (--demo-data=false)".to_owned(),
            Self::TablesMissing => {
                "demo data: skipped, this bot version has no businesses/offers tables".to_owned()
            }
            Self::AlreadySeeded => "demo data: already there".to_owned(),
            Self::Seeded {
                businesses,
                offers,
                pending,
            } => format!(
                "demo data: {businesses} approved businesses around {DEMO_CITY} with {offers} \
                 live offers (windows relative to now), {pending} application pending for the \
                 admin; the business owner ({}) runs {} (pay in the chat or at pickup), the \
                 customer ({}) is at {}",
                users.business_owner, DEMO_BUSINESSES[0].name, users.customer, HOME_PLACE.name
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("seeding the demo data failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("seeding the demo business failed: {0}")]
    Register(#[from] RegisterError),
    #[error("a demo offer has an invalid pickup window: {0}")]
    Window(#[from] Invalid),
}

/// What the demo data depends on.
#[derive(Debug, Clone)]
pub struct DemoSettings {
    pub users: UserIds,
    /// The bot's `CURRENCY`.
    pub currency: String,
    /// Pickup windows are placed relative to this.
    pub now: DateTime<Utc>,
}

impl DemoSettings {
    pub fn new(users: UserIds) -> Self {
        Self {
            users,
            currency: currency_from_env(),
            now: Utc::now(),
        }
    }
}

/// The currency the bot uses: `CURRENCY` (the sandbox passes it on to the bot), else EUR, as
/// the bot's own default.
pub fn currency_from_env() -> String {
    std::env::var("CURRENCY")
        .ok()
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        .unwrap_or_else(|| "EUR".to_owned())
}

/// Who owns a demo business.
#[derive(Debug, Clone, Copy)]
enum Owner {
    /// The page's business owner.
    BusinessOwner,
    /// The `n`th demo owner (`UserIds::first_demo_owner + n`), not on the page.
    Demo(i64, &'static str),
}

struct DemoBusiness {
    name: &'static str,
    street: &'static str,
    postal_code: &'static str,
    phone: Option<&'static str>,
    latitude: f64,
    longitude: f64,
    owner: Owner,
    approved: bool,
    payment_mode: PaymentMode,
    offers: &'static [DemoOffer],
}

struct DemoOffer {
    category: Category,
    title: &'static str,
    description: &'static str,
    units: i32,
    price_minor: i64,
    original_minor: i64,
    /// The pickup window, in minutes from now.
    starts_in: i64,
    ends_in: i64,
}

/// The first business is the business owner's, about 100 m from the customer's home place; it
/// comes first in the customer's Nearby results.
const DEMO_BUSINESSES: &[DemoBusiness] = &[
    DemoBusiness {
        name: "Backstube am Alex",
        street: "Karl-Liebknecht-Straße 9",
        postal_code: "10178",
        phone: Some("+49 30 1234567"),
        latitude: 52.522_8,
        longitude: 13.412_5,
        owner: Owner::BusinessOwner,
        approved: true,
        payment_mode: PaymentMode::Both,
        offers: &[
            DemoOffer {
                category: Category::Bakery,
                title: "Surprise bag: bread & pastries",
                description: "Bread, rolls and pastries of the day",
                units: 5,
                price_minor: 450,
                original_minor: 1200,
                starts_in: -30,
                ends_in: 180,
            },
            DemoOffer {
                category: Category::Bakery,
                title: "Sourdough loaves",
                description: "Two loaves from this morning's bake",
                units: 3,
                price_minor: 350,
                original_minor: 800,
                starts_in: 240,
                ends_in: 360,
            },
        ],
    },
    DemoBusiness {
        name: "Kreuzberger Küche",
        street: "Wiener Straße 21",
        postal_code: "10999",
        phone: None,
        latitude: 52.498_0,
        longitude: 13.433_0,
        owner: Owner::Demo(0, "Kemal"),
        approved: true,
        payment_mode: PaymentMode::OnSite,
        offers: &[
            DemoOffer {
                category: Category::ReadyMeals,
                title: "Lunch box of the day",
                description: "A main course with a side, packed to go",
                units: 4,
                price_minor: 390,
                original_minor: 1000,
                starts_in: -90,
                ends_in: 40,
            },
            DemoOffer {
                category: Category::ReadyMeals,
                title: "Veggie curry bowls",
                description: "Chickpea curry with rice",
                units: 6,
                price_minor: 420,
                original_minor: 950,
                starts_in: 120,
                ends_in: 300,
            },
        ],
    },
    DemoBusiness {
        name: "Kollwitz Gemüse",
        street: "Kollwitzstraße 50",
        postal_code: "10405",
        phone: None,
        latitude: 52.536_2,
        longitude: 13.417_0,
        owner: Owner::Demo(1, "Greta"),
        approved: true,
        payment_mode: PaymentMode::InApp,
        offers: &[DemoOffer {
            category: Category::Produce,
            title: "Fruit & veg crate",
            description: "Seasonal fruit and vegetables, a little bruised but fine",
            units: 8,
            price_minor: 500,
            original_minor: 1500,
            starts_in: -60,
            ends_in: 300,
        }],
    },
    DemoBusiness {
        name: "Deli am Savignyplatz",
        street: "Grolmanstraße 40",
        postal_code: "10623",
        phone: None,
        latitude: 52.505_8,
        longitude: 13.321_5,
        owner: Owner::Demo(2, "Sofia"),
        approved: true,
        payment_mode: PaymentMode::OnSite,
        offers: &[DemoOffer {
            category: Category::Groceries,
            title: "Deli box",
            description: "Cheese, cured meat and antipasti close to their date",
            units: 3,
            price_minor: 600,
            original_minor: 1800,
            starts_in: 60,
            ends_in: 240,
        }],
    },
    // Waiting for the admin's /pending.
    DemoBusiness {
        name: "Neuköllner Nudeln",
        street: "Weserstraße 30",
        postal_code: "12045",
        phone: None,
        latitude: 52.487_0,
        longitude: 13.431_0,
        owner: Owner::Demo(3, "Nils"),
        approved: false,
        payment_mode: PaymentMode::OnSite,
        offers: &[],
    },
];

/// Seeds the demo data when enabled; logs what it did.
pub async fn seed_demo_data(
    database_url: &str,
    enabled: bool,
    settings: &DemoSettings,
) -> Result<DemoOutcome, DemoError> {
    if !enabled {
        return Ok(DemoOutcome::Disabled);
    }
    let mut connection = PgConnection::connect(database_url).await?;
    let outcome = seed(&mut connection, settings).await;
    let _ = connection.close().await;
    outcome
}

/// Seeds the demo data in one transaction, once per database.
pub async fn seed(
    conn: &mut PgConnection,
    settings: &DemoSettings,
) -> Result<DemoOutcome, DemoError> {
    let tables_exist: bool = sqlx::query_scalar(
        "SELECT to_regclass('businesses') IS NOT NULL AND to_regclass('offers') IS NOT NULL
             AND to_regclass('customer_settings') IS NOT NULL",
    )
    .fetch_one(&mut *conn)
    .await?;
    if !tables_exist {
        return Ok(DemoOutcome::TablesMissing);
    }
    let mut tx = conn.begin().await?;
    // Two seeders at once would both see an empty database.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('toogoodtogo-sandbox-demo-data'))")
        .execute(&mut *tx)
        .await?;
    let ids = settings.users;
    let seeded: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM business_members WHERE user_id = $1 AND role = 'owner')",
    )
    .bind(ids.business_owner)
    .fetch_one(&mut *tx)
    .await?;
    if seeded {
        return Ok(DemoOutcome::AlreadySeeded);
    }

    // The page's users as the bot records them on their first message, so that the rows that
    // refer to them exist before they write.
    for (id, name) in [
        (ids.customer, "Carla"),
        (ids.business_owner, "Bruno"),
        (ids.admin, "Ada"),
    ] {
        record_user(&mut tx, id, name, true).await?;
    }
    customers::set_location(
        &mut tx,
        ids.customer,
        Point {
            latitude: HOME_PLACE.latitude,
            longitude: HOME_PLACE.longitude,
        },
    )
    .await?;

    let (mut approved, mut pending, mut published) = (0, 0, 0);
    for business in DEMO_BUSINESSES {
        let owner_id = match business.owner {
            Owner::BusinessOwner => ids.business_owner,
            Owner::Demo(n, name) => {
                let id = ids.first_demo_owner + n;
                record_user(&mut tx, id, name, false).await?;
                id
            }
        };
        let new = NewBusiness {
            owner_id,
            name: business.name.to_owned(),
            street: business.street.to_owned(),
            city: DEMO_CITY.to_owned(),
            postal_code: business.postal_code.to_owned(),
            phone: business.phone.map(str::to_owned),
            logo_file_id: None,
            latitude: business.latitude,
            longitude: business.longitude,
        };
        let business_id = businesses::register(&mut tx, &new).await?;
        if !business.approved {
            pending += 1;
            continue;
        }
        businesses::change_status(
            &mut tx,
            business_id,
            BusinessStatus::Pending,
            BusinessStatus::Approved,
            ids.admin,
            None,
        )
        .await?;
        approved += 1;
        if business.payment_mode != PaymentMode::OnSite {
            payments::set_payment_mode(&mut tx, business_id, business.payment_mode).await?;
        }
        for offer in business.offers {
            let window = PickupWindow::new(
                settings.now + Duration::minutes(offer.starts_in),
                settings.now + Duration::minutes(offer.ends_in),
                settings.now,
            )?;
            offers::insert(
                &mut tx,
                &NewOffer {
                    business_id,
                    category: offer.category,
                    title: offer.title.to_owned(),
                    description: offer.description.to_owned(),
                    photo_file_id: None,
                    window,
                    units: offer.units,
                    price_minor: offer.price_minor,
                    original_minor: Some(offer.original_minor),
                    currency: settings.currency.clone(),
                    created_by: owner_id,
                },
            )
            .await?;
            published += 1;
        }
    }
    tx.commit().await?;
    Ok(DemoOutcome::Seeded {
        businesses: approved,
        offers: published,
        pending,
    })
}

/// A user row as the bot writes it on contact; the page's users get the page's usernames.
async fn record_user(
    conn: &mut PgConnection,
    id: i64,
    first_name: &str,
    on_page: bool,
) -> sqlx::Result<()> {
    let username = on_page.then(|| format!("{}_{id}", first_name.to_lowercase()));
    users::record_contact(
        conn,
        &Contact {
            telegram_id: id,
            first_name,
            last_name: None,
            username: username.as_deref(),
            language_code: None,
        },
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use toogoodtogo_bot::marketplace::geo::distance_km;
    use toogoodtogo_bot::store::search::ENDING_SOON;

    fn at(business: &DemoBusiness) -> Point {
        Point {
            latitude: business.latitude,
            longitude: business.longitude,
        }
    }

    #[test]
    fn the_business_owners_shop_is_the_nearest_to_the_customers_home() {
        let home = Point {
            latitude: HOME_PLACE.latitude,
            longitude: HOME_PLACE.longitude,
        };
        let (first, others) = DEMO_BUSINESSES.split_first().expect("demo businesses");
        assert!(matches!(first.owner, Owner::BusinessOwner));
        assert!(distance_km(home, at(first)) < 0.3);
        for other in others {
            assert!(distance_km(home, at(other)) > 1.0, "{}", other.name);
            assert!(matches!(other.owner, Owner::Demo(..)));
        }
    }

    #[test]
    fn the_windows_cover_open_now_later_today_and_ending_soon() {
        let offers: Vec<&DemoOffer> = DEMO_BUSINESSES.iter().flat_map(|b| b.offers).collect();
        assert!(offers.iter().any(|o| o.starts_in < 0 && o.ends_in > 120));
        assert!(offers.iter().any(|o| o.starts_in > 0));
        let ending_soon = offers
            .iter()
            .filter(|o| Duration::minutes(o.ends_in) <= ENDING_SOON)
            .count();
        assert_eq!(ending_soon, 1, "one offer is in Ending soon");
        for offer in offers {
            assert!(offer.original_minor > offer.price_minor, "{}", offer.title);
            assert!(offer.units > 0);
        }
    }

    #[test]
    fn the_business_owners_bakery_takes_payment_in_the_chat_and_at_pickup() {
        assert_eq!(DEMO_BUSINESSES[0].payment_mode, PaymentMode::Both);
        assert!(
            DEMO_BUSINESSES
                .iter()
                .any(|b| b.approved && b.payment_mode == PaymentMode::InApp)
        );
        assert!(
            DEMO_BUSINESSES
                .iter()
                .any(|b| b.approved && b.payment_mode == PaymentMode::OnSite)
        );
    }

    #[test]
    fn demo_owners_are_numbered_between_the_preset_and_the_new_users() {
        let ids = UserIds::from_base(1000);
        let highest = DEMO_BUSINESSES
            .iter()
            .filter_map(|b| match b.owner {
                Owner::Demo(n, _) => Some(ids.first_demo_owner + n),
                Owner::BusinessOwner => None,
            })
            .max()
            .unwrap_or_default();
        assert!(ids.first_demo_owner > ids.admin);
        assert!(highest < ids.first_new_user);
    }
}
