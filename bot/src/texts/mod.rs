//! Every user-facing string, read from the Fluent files under `bot/locales/<language>/`
//! (embedded in the binary, parsed once). English is complete and the fallback: a message a
//! language lacks is shown in English, and `toogoodtogo-bot texts --check` lists it.

pub mod check;
pub mod customer;
pub mod fluent;
pub mod format;
pub mod notice;

use std::sync::LazyLock;

use fluent_bundle::FluentArgs;

use crate::marketplace::window::WindowDay;
use crate::marketplace::{Category, Field, Invalid, OfferState, Problem};
use crate::store::businesses::{Business, BusinessStatus};

pub use fluent::{Language, take_render_errors};

/// Fluent arguments from `name => value` pairs.
macro_rules! args {
    ($($name:literal => $value:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut args = ::fluent_bundle::FluentArgs::new();
        $(args.set($name, $value);)*
        args
    }};
}
pub(crate) use args;

/// A struct of `&'static str` fields, each the message `<prefix>-<field-name>` of a language.
macro_rules! strings {
    ($(#[$meta:meta])* pub struct $name:ident($prefix:literal) { $($(#[$field_meta:meta])* $field:ident),* $(,)? }) => {
        $(#[$meta])*
        pub struct $name {
            pub lang: &'static $crate::texts::fluent::Language,
            $($(#[$field_meta])* pub $field: &'static str,)*
        }

        impl $name {
            /// The message ids of the fields.
            pub fn ids() -> Vec<String> {
                vec![$($crate::texts::message_id($prefix, stringify!($field))),*]
            }

            pub(crate) fn load(lang: &'static $crate::texts::fluent::Language) -> Self {
                Self {
                    lang,
                    $($field: lang.text(&$crate::texts::message_id($prefix, stringify!($field))),)*
                }
            }

            /// A message with variables in this language.
            #[allow(dead_code)]
            fn fmt(&self, id: &str, args: ::fluent_bundle::FluentArgs) -> String {
                self.lang.format(id, &args)
            }
        }
    };
}
pub(crate) use strings;

/// `biz` + `skip_button` → `biz-skip-button`.
pub fn message_id(prefix: &str, field: &str) -> String {
    let name = field.replace('_', "-");
    if prefix.is_empty() {
        name
    } else {
        format!("{prefix}-{name}")
    }
}

strings! {
    /// The strings used everywhere.
    pub struct CommonTexts("") {
        role_customer, role_business, help, privacy, delete_confirm, delete_confirm_yes,
        delete_confirm_no, delete_done, delete_cancelled, delete_nothing, unknown_command,
        free_text, unsupported_update, slow_down, button_no_longer_valid, deep_link_unknown,
        customer_chosen, business_chosen, something_went_wrong,
        /// A button pressed in a group: the marketplace works in private chats only.
        private_chat_only_notice,
    }
}

/// The strings of one language.
pub struct Catalog {
    pub lang: &'static Language,
    pub common: CommonTexts,
    /// The supply side: registration, approval, deals.
    pub biz: BusinessTexts,
    /// The demand side: browsing, reserving, pickup, favourites, ratings, settings.
    pub cust: customer::CustomerTexts,
}

impl std::ops::Deref for Catalog {
    type Target = CommonTexts;

    fn deref(&self) -> &CommonTexts {
        &self.common
    }
}

strings! {
    /// Strings of the business flows.
    pub struct BusinessTexts("biz") {
        registration_intro, ask_business_name, ask_street, ask_city, ask_postal_code, ask_phone,
        ask_logo, ask_location, share_location_button, skip_button, registration_all_set,
        registration_cancelled, submit_button, edit_button, cancel_button, back_button,
        which_field, draft_gone, duplicate_business, welcome_back_business, no_dialogue,
        approve_button, reject_button, suspend_button, reinstate_button, no_pending,
        retry_refund_button, refund_retried, refund_not_failed, ask_rejection_reason,
        rejection_cancelled, already_decided, post_deal_now_button, newdeal_no_business,
        newdeal_pending, newdeal_rejected, newdeal_suspended, not_your_business, which_business,
        ask_category, ask_title, ask_description, ask_photo, ask_units, ask_units_edit,
        deal_ready, deal_cancelled, publish_button, edit_field_button, view_as_customer_button,
        share_link_button, manage_button, pause_button, resume_button, end_now_button,
        end_confirm_button, end_keep_button, no_offers, not_your_offer, offer_already_ended,
        resume_suspended, resume_without_units, window_ended, edit_cancelled,
        staff_cannot_invite, staff_already_member, staff_invite_invalid, no_longer_staff,
        identity_change_sent, accept_change_button, reject_change_button,
        ask_change_rejection_reason, change_rejection_cancelled, change_already_decided,
        change_accepted, change_rejected, name_taken_by_live_business,
        /// The reason an application that waited too long was closed with.
        application_expired_reason,
        remove_confirm_button, invite_revoked, invite_not_open,
    }
}

impl BusinessTexts {
    pub fn edit_business_button(&self, name: &str) -> String {
        self.fmt("biz-edit-business-button", args!["name" => name])
    }

    pub fn which_business_field(&self, name: &str) -> String {
        self.fmt("biz-which-business-field", args!["name" => name])
    }

    /// A member's name as the owner reads it; empty after they erased their data.
    pub fn member_name(&self, first_name: &str, username: Option<&str>) -> String {
        match (first_name.trim(), username) {
            ("", None) => self.lang.text("biz-member-erased").to_owned(),
            ("", Some(username)) => format!("@{username}"),
            (name, None) => name.to_owned(),
            (name, Some(username)) => format!("{name} (@{username})"),
        }
    }

    pub fn staff_member_line(
        &self,
        member: &crate::store::staff::Member,
        tz: chrono_tz::Tz,
    ) -> String {
        let name = self.member_name(&member.first_name, member.username.as_deref());
        let joined = format::date_time(self.lang, member.added_at, tz);
        match (member.role.as_str(), member.invited_by_name.as_deref()) {
            ("owner", _) => self.fmt("biz-staff-owner-line", args!["name" => name]),
            (_, Some(by)) if !by.trim().is_empty() => self.fmt(
                "biz-staff-line-invited",
                args!["name" => name, "joined" => joined, "by" => by],
            ),
            _ => self.fmt("biz-staff-line", args!["name" => name, "joined" => joined]),
        }
    }

    pub fn open_invite_line(
        &self,
        number: usize,
        expires_at: chrono::DateTime<chrono::Utc>,
        tz: chrono_tz::Tz,
    ) -> String {
        let until = format::date_time(self.lang, expires_at, tz);
        self.fmt(
            "biz-open-invite-line",
            args!["number" => number, "until" => until],
        )
    }

    pub fn staff_screen(&self, business: &str, members: &[String], invites: &[String]) -> String {
        let mut text = self.fmt(
            "biz-staff-screen",
            args!["business" => business, "members" => members.join("\n")],
        );
        if members.len() < 2 {
            text.push('\n');
            text.push_str(self.lang.text("biz-staff-none-yet"));
        }
        if !invites.is_empty() {
            text.push_str("\n\n");
            text.push_str(&self.fmt(
                "biz-staff-open-invites",
                args!["invites" => invites.join("\n")],
            ));
        }
        text
    }

    pub fn remove_member_button(&self, name: &str) -> String {
        self.fmt("biz-remove-member-button", args!["name" => name])
    }

    pub fn revoke_invite_button(&self, number: usize) -> String {
        self.fmt("biz-revoke-invite-button", args!["number" => number])
    }

    pub fn remove_member_question(&self, name: &str, business: &str) -> String {
        self.fmt(
            "biz-remove-member-question",
            args!["name" => name, "business" => business],
        )
    }

    pub fn member_removed(&self, name: &str) -> String {
        self.fmt("biz-member-removed", args!["name" => name])
    }

    pub fn removed_from_staff(&self, business: &str) -> String {
        self.fmt("biz-removed-from-staff", args!["business" => business])
    }

    /// An identity change for the admins: only what differs, old → new.
    pub fn change_request(
        &self,
        business: &Business,
        change: &crate::store::businesses::IdentityChange,
    ) -> String {
        let mut lines = Vec::new();
        if business.name != change.name {
            lines.push(self.fmt(
                "biz-change-name",
                args!["old" => business.name.as_str(), "new" => change.name.as_str()],
            ));
        }
        let old_address = format!(
            "{}, {} {}",
            business.street, business.postal_code, business.city
        );
        let new_address = format!("{}, {} {}", change.street, change.postal_code, change.city);
        if old_address != new_address {
            lines.push(self.fmt(
                "biz-change-address",
                args!["old" => old_address, "new" => new_address],
            ));
        }
        if (business.latitude, business.longitude) != (change.latitude, change.longitude) {
            lines.push(self.fmt(
                "biz-change-location",
                args![
                    "old" => format::coordinates(business.latitude, business.longitude),
                    "new" => format::coordinates(change.latitude, change.longitude),
                ],
            ));
        }
        if business.logo_file_id != change.logo_file_id {
            lines.push(
                match change.logo_file_id {
                    Some(_) => self.lang.text("biz-change-logo-new"),
                    None => self.lang.text("biz-change-logo-removed"),
                }
                .to_owned(),
            );
        }
        if lines.is_empty() {
            lines.push(self.lang.text("biz-change-no-difference").to_owned());
        }
        self.fmt(
            "biz-change-request",
            args![
                "business" => business.name.as_str(),
                "id" => business.id,
                "lines" => lines.join("\n"),
            ],
        )
    }

    /// The owner's own change while it waits for an admin.
    pub fn change_waiting(&self, change: &crate::store::businesses::IdentityChange) -> String {
        self.fmt(
            "biz-change-waiting",
            args![
                "name" => change.name.as_str(),
                "street" => change.street.as_str(),
                "postcode" => change.postal_code.as_str(),
                "city" => change.city.as_str(),
            ],
        )
    }

    pub fn change_accepted_notice(&self, name: &str) -> String {
        self.fmt("biz-change-accepted-notice", args!["name" => name])
    }

    pub fn change_rejected_notice(&self, name: &str, reason: &str) -> String {
        self.fmt(
            "biz-change-rejected-notice",
            args!["name" => name, "reason" => reason],
        )
    }

    /// Why a staff member's press or command was refused.
    pub fn owner_only(&self, action: crate::marketplace::permissions::Action) -> &'static str {
        use crate::marketplace::permissions::Action;
        self.lang.text(match action {
            Action::Refund => "biz-owner-only-refund",
            Action::EndDealWithPaid => "biz-owner-only-end-deal-with-paid",
            Action::EditBusiness => "biz-owner-only-edit-business",
            Action::InviteStaff => return self.staff_cannot_invite,
            Action::ManageStaff => "biz-owner-only-manage-staff",
            Action::SeeReservations
            | Action::ConfirmPickup
            | Action::PostDeal
            | Action::ManageDeal => "biz-owner-only",
        })
    }

    pub fn business_updated(&self, summary: &str) -> String {
        self.fmt("biz-business-updated", args!["summary" => summary])
    }
}

impl Catalog {
    fn load(lang: &'static Language) -> Self {
        Self {
            lang,
            common: CommonTexts::load(lang),
            biz: BusinessTexts::load(lang),
            cust: customer::CustomerTexts::load(lang),
        }
    }

    /// The language code of this catalogue (`en`, `de`).
    pub fn code(&self) -> &'static str {
        self.lang.code
    }

    fn fmt(&self, id: &str, args: FluentArgs) -> String {
        self.lang.format(id, &args)
    }

    /// An amount in minor units, as this language writes money: `EUR 4.50`, `4,50 €`.
    pub fn money(&self, minor: i64, currency: &str) -> String {
        format::money(self.lang, minor, currency)
    }

    /// "350 m" below one kilometre, "2.4 km" (en) or "2,4 km" (de) above.
    pub fn distance(&self, km: f64) -> String {
        if km < 1.0 {
            crate::marketplace::geo::describe_distance(km)
        } else {
            format!("{} km", format::one_decimal(self.lang, km))
        }
    }

    /// A number with one decimal, e.g. an average rating: `4.5` (en), `4,5` (de).
    pub fn one_decimal(&self, value: f64) -> String {
        format::one_decimal(self.lang, value)
    }

    /// A time of day (24-hour).
    pub fn time(&self, at: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> String {
        format::time(self.lang, at, tz)
    }

    /// The description of a command in Telegram's menu.
    pub fn command_description(&self, command: &str) -> &'static str {
        self.lang.text(&message_id("command", command))
    }

    /// A field's name as people read it.
    pub fn field_name(&self, field: Field) -> &'static str {
        self.lang.text(&message_id("field", field_key(field)))
    }

    fn field_example(&self, field: Field) -> &'static str {
        self.lang.text(&message_id("example", field_key(field)))
    }

    /// Refusal of an answer: the field, what is wrong, and a correct example.
    pub fn invalid(&self, invalid: Invalid) -> String {
        let problem = match invalid.problem {
            Problem::Length { min, max } => {
                self.fmt("problem-length", args!["min" => min, "max" => max])
            }
            Problem::Format => self
                .lang
                .text(match invalid.field {
                    Field::Street => "problem-format-street",
                    Field::PickupWindow => "problem-format-pickup-window",
                    Field::Units => "problem-format-units",
                    Field::Price | Field::OriginalValue => "problem-format-amount",
                    Field::Category => "problem-format-category",
                    _ => "problem-format",
                })
                .to_owned(),
            Problem::NotPositive => self.lang.text("problem-not-positive").to_owned(),
            Problem::NotBelowOriginal => self.lang.text("problem-not-below-original").to_owned(),
            Problem::EndsBeforeStart => self.lang.text("problem-ends-before-start").to_owned(),
            Problem::AlreadyEnded => self.lang.text("problem-already-ended").to_owned(),
            Problem::TooFarAhead => self.lang.text("problem-too-far-ahead").to_owned(),
            Problem::TooLarge => self.lang.text("problem-too-large").to_owned(),
            Problem::OutsideInvoiceLimits { min, max, digits } => self.fmt(
                "problem-outside-invoice-limits",
                args![
                    "min" => format::decimal(self.lang, min, digits),
                    "max" => format::decimal(self.lang, max, digits),
                ],
            ),
        };
        self.fmt(
            "invalid",
            args![
                "field" => self.field_name(invalid.field),
                "problem" => problem,
                "example" => self.field_example(invalid.field),
            ],
        )
    }

    pub fn category_label(&self, category: Category) -> &'static str {
        self.lang.text(match category {
            Category::ReadyMeals => "category-ready-meals",
            Category::Bakery => "category-bakery",
            Category::Produce => "category-produce",
            Category::Groceries => "category-groceries",
            Category::Other => "category-other",
        })
    }

    /// A category from its button label or its name typed by hand.
    pub fn parse_category(&self, text: &str) -> Option<Category> {
        let typed = text.trim().to_lowercase();
        Category::ALL.into_iter().find(|c| {
            let label = self.category_label(*c).to_lowercase();
            label == typed || label.split_once(' ').is_some_and(|(_, name)| name == typed)
        })
    }

    pub fn registration_summary(
        &self,
        draft: &crate::handlers::business::registration::Draft,
    ) -> String {
        let value = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".to_owned());
        let location = match (draft.latitude, draft.longitude) {
            (Some(lat), Some(lon)) => format::coordinates(lat, lon),
            _ => "—".to_owned(),
        };
        let none = self.lang.text("value-none");
        self.fmt(
            "registration-summary",
            args![
                "name" => value(&draft.name),
                "street" => value(&draft.street),
                "postcode" => value(&draft.postal_code),
                "city" => value(&draft.city),
                "phone" => draft.phone.clone().unwrap_or_else(|| none.to_owned()),
                "logo" => if draft.logo_file_id.is_some() { self.lang.text("value-yes") } else { none },
                "location" => location,
            ],
        )
    }

    pub fn submitted(&self, name: &str) -> String {
        self.fmt("submitted", args!["name" => name])
    }

    fn business_facts(&self, business: &Business) -> String {
        self.fmt(
            "business-facts",
            args![
                "name" => business.name.as_str(),
                "id" => business.id,
                "street" => business.street.as_str(),
                "postcode" => business.postal_code.as_str(),
                "city" => business.city.as_str(),
                "phone" => business.phone.as_deref().unwrap_or(self.lang.text("value-none")),
                "location" => format::coordinates(business.latitude, business.longitude),
            ],
        )
    }

    /// The admins' notification of a new application.
    pub fn new_application(&self, business: &Business, matching: &[Business]) -> String {
        let text = self.fmt(
            "new-application",
            args!["facts" => self.business_facts(business)],
        );
        text + &self.side_by_side(matching)
    }

    /// The businesses an application shares its name and address with, for the admin to
    /// compare.
    fn side_by_side(&self, matching: &[Business]) -> String {
        if matching.is_empty() {
            return String::new();
        }
        let others: Vec<String> = matching
            .iter()
            .map(|other| {
                let status = self.lang.text(match other.status() {
                    BusinessStatus::Approved => "match-approved",
                    BusinessStatus::Suspended => "match-suspended",
                    BusinessStatus::Pending => "match-pending",
                    BusinessStatus::Rejected => "match-rejected",
                });
                format!("— {status}:\n{}", self.business_facts(other))
            })
            .collect();
        format!(
            "\n\n{}",
            self.fmt(
                "same-name-and-address",
                args!["others" => others.join("\n")]
            )
        )
    }

    /// What the applicant hears when their application matches another business.
    pub fn submitted_for_comparison(&self, name: &str) -> String {
        self.fmt("submitted-for-comparison", args!["name" => name])
    }

    /// An application expires tomorrow.
    pub fn application_expiring(&self, name: &str) -> String {
        self.fmt("application-expiring", args!["name" => name])
    }

    /// What a group is told once: the marketplace works in private chats.
    pub fn private_chat_only(&self, link: &str) -> String {
        self.fmt("private-chat-only", args!["link" => link])
    }

    pub fn payments_attention_heading(&self, count: usize) -> String {
        self.fmt("payments-attention-heading", args!["count" => count])
    }

    fn order_or_none(&self, order: Option<i64>) -> String {
        match order {
            Some(id) => self.fmt("order-number", args!["id" => id]),
            None => self.lang.text("no-order").to_owned(),
        }
    }

    /// A payment the bot could not place, or whose refund was given up.
    pub fn payment_needing_attention(
        &self,
        p: &crate::store::payments::PaymentNeedingAttention,
    ) -> String {
        let total = self.money(p.amount_minor, &p.currency);
        let payer = match (&p.payer_name, p.payer_id) {
            (Some(name), Some(id)) if !name.is_empty() => format!("{name} ({id})"),
            (_, Some(id)) => id.to_string(),
            _ => self.lang.text("payer-unknown").to_owned(),
        };
        let state = match (p.refund_status.as_deref(), &p.last_error) {
            (Some("failed"), Some(error)) => {
                self.fmt("refund-failed-with-error", args!["error" => error.as_str()])
            }
            (Some("failed"), None) => self.lang.text("refund-failed-state").to_owned(),
            (Some(status), _) => self.fmt("refund-state", args!["status" => status]),
            (None, _) => self.lang.text("no-refund").to_owned(),
        };
        self.fmt(
            "payment-needing-attention",
            args![
                "id" => p.payment_id,
                "total" => total,
                "payer" => payer,
                "order" => self.order_or_none(p.reservation_id),
                "charge" => p.charge_id.as_str(),
                "state" => state,
            ],
        )
    }

    /// One application in /pending.
    pub fn application(&self, business: &Business, matching: &[Business]) -> String {
        let text = self.fmt(
            "application",
            args!["facts" => self.business_facts(business)],
        );
        text + &self.side_by_side(matching)
    }

    /// What the admin sees after a decision.
    pub fn decision_done(&self, business: &Business) -> String {
        let outcome = self.lang.text(match business.status() {
            BusinessStatus::Approved => "decision-approved",
            BusinessStatus::Rejected => "decision-rejected",
            BusinessStatus::Suspended => "decision-suspended",
            BusinessStatus::Pending => "decision-pending",
        });
        self.fmt(
            "decision-done",
            args!["outcome" => outcome, "facts" => self.business_facts(business)],
        )
    }

    /// What the business is told about a decision.
    pub fn decision_notice(&self, business: &Business, from: BusinessStatus) -> String {
        self.decision_text(
            &business.name,
            business.status(),
            from,
            business.rejection_reason.as_deref(),
        )
    }

    /// What the owner of business `name` hears when it goes from `from` to `to`.
    pub fn decision_text(
        &self,
        name: &str,
        to: BusinessStatus,
        from: BusinessStatus,
        rejection_reason: Option<&str>,
    ) -> String {
        match to {
            BusinessStatus::Approved if from == BusinessStatus::Suspended => {
                self.fmt("decision-reinstated", args!["name" => name])
            }
            BusinessStatus::Approved => self.fmt("decision-approved-notice", args!["name" => name]),
            BusinessStatus::Rejected => {
                // An expired application's reason is stored in English; it reads in the
                // owner's language. An admin's reason is shown as the admin wrote it.
                let reason = match rejection_reason {
                    Some(reason) if reason == english().biz.application_expired_reason => {
                        self.biz.application_expired_reason
                    }
                    Some(reason) => reason,
                    None => "—",
                };
                self.fmt(
                    "decision-rejected-notice",
                    args!["name" => name, "reason" => reason],
                )
            }
            BusinessStatus::Suspended => {
                self.fmt("decision-suspended-notice", args!["name" => name])
            }
            BusinessStatus::Pending => self.fmt("decision-pending-notice", args!["name" => name]),
        }
    }

    pub fn ask_window(&self, timezone: &str) -> String {
        self.fmt("ask-window", args!["timezone" => timezone])
    }

    pub fn ask_price(&self, currency: &str) -> String {
        self.fmt("ask-price", args!["currency" => currency])
    }

    pub fn ask_original(&self, currency: &str) -> String {
        self.fmt("ask-original", args!["currency" => currency])
    }

    pub fn deal_preview(&self, card: &str) -> String {
        self.fmt("deal-preview", args!["card" => card])
    }

    pub fn published(&self, card: &str) -> String {
        self.fmt("published", args!["card" => card])
    }

    pub fn customer_view(&self, card: &str) -> String {
        self.fmt("customer-view", args!["card" => card])
    }

    pub fn share(&self, title: &str, link: &str) -> String {
        self.fmt("share", args!["title" => title, "link" => link])
    }

    pub fn end_confirm(&self, title: &str, live: i64, paid: i64) -> String {
        let reservations = match (live, paid) {
            (0, _) => self.lang.text("end-no-reservations").to_owned(),
            (live, 0) => self.fmt("end-cancels", args!["live" => live]),
            (live, paid) => self.fmt(
                "end-cancels-and-refunds",
                args!["live" => live, "paid" => paid],
            ),
        };
        self.fmt(
            "end-confirm",
            args!["title" => title, "reservations" => reservations],
        )
    }

    /// A window edit refused because customers reserved for the current window.
    pub fn window_locked(&self, live: i64) -> String {
        self.fmt("window-locked", args!["live" => live])
    }

    pub fn which_offer_field(&self, title: &str) -> String {
        self.fmt("which-offer-field", args!["title" => title])
    }

    pub fn offer_updated(&self, card: &str) -> String {
        self.fmt("offer-updated", args!["card" => card])
    }

    pub fn not_in_state(&self, state: OfferState) -> String {
        let state = self.lang.text(match state {
            OfferState::Active => "offer-state-live",
            OfferState::Paused => "offer-state-paused",
            OfferState::SoldOut => "offer-state-sold-out",
            OfferState::Expired => "offer-state-expired",
            OfferState::ExpiredEarly => "offer-state-ended",
        });
        self.fmt("not-in-state", args!["state" => state])
    }

    pub fn state_changed(&self, state: OfferState) -> &'static str {
        self.lang.text(match state {
            OfferState::Active => "state-changed-live",
            OfferState::Paused => "state-changed-paused",
            OfferState::SoldOut => "state-changed-sold-out",
            OfferState::Expired | OfferState::ExpiredEarly => "state-changed-ended",
        })
    }

    pub fn card_state(&self, state: OfferState) -> &'static str {
        self.lang.text(match state {
            OfferState::Active => "card-state-live",
            OfferState::Paused => "card-state-paused",
            OfferState::SoldOut => "card-state-sold-out",
            OfferState::Expired => "card-state-expired",
            OfferState::ExpiredEarly => "card-state-ended-early",
        })
    }

    pub fn card_price_with_original(&self, original: &str, price: &str) -> String {
        self.fmt(
            "card-price-with-original",
            args!["original" => original, "price" => price],
        )
    }

    pub fn card_pickup(&self, day: &WindowDay, from: &str, to: &str) -> String {
        match day {
            WindowDay::Today => self.fmt("card-pickup-today", args!["from" => from, "to" => to]),
            WindowDay::Tomorrow => {
                self.fmt("card-pickup-tomorrow", args!["from" => from, "to" => to])
            }
            WindowDay::On(date) => self.fmt(
                "card-pickup-on",
                args![
                    "date" => format::weekday_date(self.lang, *date),
                    "from" => from,
                    "to" => to,
                ],
            ),
        }
    }

    pub fn card_units(&self, units: i32) -> String {
        self.fmt("card-units", args!["units" => units])
    }

    /// The business's summary when the expiry job ends a deal.
    pub fn expired_summary(
        &self,
        title: &str,
        reserved: i64,
        picked_up: i64,
        units_left: i32,
    ) -> String {
        self.fmt(
            "expired-summary",
            args![
                "title" => title,
                "reserved" => reserved,
                "picked_up" => picked_up,
                "left" => units_left,
            ],
        )
    }

    pub fn staff_invite(&self, business: &str, link: &str, hours: i32) -> String {
        self.fmt(
            "staff-invite",
            args!["business" => business, "link" => link, "hours" => hours],
        )
    }

    pub fn staff_joined(&self, business: &str) -> String {
        self.fmt("staff-joined", args!["business" => business])
    }

    pub fn staff_joined_owner_notice(&self, who: &str, business: &str) -> String {
        self.fmt(
            "staff-joined-owner-notice",
            args!["who" => who, "business" => business],
        )
    }

    pub fn greeting(&self, first_name: &str) -> String {
        let name = if first_name.trim().is_empty() {
            self.lang.text("greeting-anonymous")
        } else {
            first_name
        };
        self.fmt("greeting", args!["name" => name])
    }
}

/// The part of a field's message ids after `field-` and `example-`.
fn field_key(field: Field) -> &'static str {
    match field {
        Field::BusinessName => "business_name",
        Field::Street => "street",
        Field::City => "city",
        Field::PostalCode => "postal_code",
        Field::Phone => "phone",
        Field::Logo => "logo",
        Field::Location => "location",
        Field::Category => "category",
        Field::Title => "title",
        Field::Description => "description",
        Field::Photo => "photo",
        Field::PickupWindow => "pickup_window",
        Field::Units => "units",
        Field::Price => "price",
        Field::OriginalValue => "original_value",
        Field::RejectionReason => "rejection_reason",
    }
}

/// One catalogue per embedded language, built on first use; English first.
static CATALOGS: LazyLock<Vec<Catalog>> = LazyLock::new(|| {
    fluent::LANGUAGES
        .iter()
        .map(|language| Catalog::load(language))
        .collect()
});

/// The English catalogue: the fallback, and the language of logs meant for operators.
pub fn english() -> &'static Catalog {
    &CATALOGS[0]
}

/// The catalogue for a Telegram `language_code` (e.g. `en`, `de-AT`); English for any other.
pub fn for_language(language_code: Option<&str>) -> &'static Catalog {
    let base = language_code.map(base_language);
    CATALOGS
        .iter()
        .find(|catalog| Some(catalog.code()) == base.as_deref())
        .unwrap_or_else(english)
}

/// The catalogue of a user the bot writes to: the language they chose, or the one Telegram
/// reported at their first contact.
pub async fn for_user(
    conn: &mut sqlx::PgConnection,
    telegram_id: i64,
) -> sqlx::Result<&'static Catalog> {
    let language = crate::store::users::language(conn, telegram_id).await?;
    Ok(for_language(language.as_deref()))
}

/// `de-AT` → `de`, lower-cased.
pub fn base_language(code: &str) -> String {
    code.split(['-', '_'])
        .next()
        .unwrap_or(code)
        .to_ascii_lowercase()
}

/// The languages users can choose, as their codes.
pub fn languages() -> impl Iterator<Item = &'static str> {
    CATALOGS.iter().map(Catalog::code)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn german() -> &'static Catalog {
        for_language(Some("de"))
    }

    #[test]
    fn unknown_languages_fall_back_to_english() {
        assert!(std::ptr::eq(for_language(Some("xx-YY")), english()));
        assert!(std::ptr::eq(for_language(None), english()));
        assert!(std::ptr::eq(for_language(Some("de-AT")), german()));
        assert_eq!(german().code(), "de");
    }

    #[test]
    fn greeting_names_the_user_and_survives_an_empty_name() {
        assert!(english().greeting("Ada").starts_with("Hi Ada!"));
        assert!(english().greeting(" ").starts_with("Hi there!"));
        assert!(german().greeting("Ada").starts_with("Hallo Ada!"));
    }

    #[test]
    fn every_text_fits_a_telegram_message() {
        for catalog in CATALOGS.iter() {
            for text in [catalog.help, catalog.privacy, catalog.delete_confirm] {
                assert!(text.chars().count() <= 4096);
            }
        }
    }

    #[test]
    fn refusals_name_the_field_and_give_an_example() {
        let en = english();
        let text = en.invalid(Invalid::new(Field::PostalCode, Problem::Format));
        assert_eq!(
            text,
            "⚠️ Postal code: is not in a form I understand.\nFor example: 10115"
        );
        let text = en.invalid(Invalid::new(Field::PickupWindow, Problem::TooFarAhead));
        assert!(text.starts_with("⚠️ Pickup window: may end at most 48 hours"));
        let text = german().invalid(Invalid::new(Field::PostalCode, Problem::Format));
        assert!(text.starts_with("⚠️ Postleitzahl:"), "{text}");
    }

    /// The code's side of rendering: every message id the texts code names exists in English,
    /// and every function that renders a message passes each variable the message uses (a
    /// misspelt argument would render as `{$name}`). Variables are read from the `args![]` lists
    /// and `args.set(..)` calls in the same function.
    #[test]
    fn every_message_the_code_names_exists_and_gets_its_variables() {
        let english = check::variables_by_id(&check::embedded()[0]);
        let sources = [
            ("mod.rs", include_str!("mod.rs")),
            ("customer.rs", include_str!("customer.rs")),
            ("format.rs", include_str!("format.rs")),
        ];
        let mut problems = Vec::new();
        for (file, source) in sources {
            // The tests below name no messages; stop before them.
            let code = source.split("#[cfg(test)]").next().unwrap_or(source);
            for function in code.split("fn ").skip(1) {
                let name = function.split('(').next().unwrap_or_default();
                let literals: Vec<(usize, &str)> = function
                    .match_indices('"')
                    .collect::<Vec<_>>()
                    .chunks(2)
                    .filter_map(|pair| match pair {
                        [(start, _), (end, _)] => Some((*end, &function[start + 1..*end])),
                        _ => None,
                    })
                    .collect();
                let is_argument = |end: usize, literal: &str| {
                    let after = function[end + 1..].trim_start();
                    let before = function[..end - literal.len() - 1].trim_end();
                    after.starts_with("=>") || before.ends_with("args.set(")
                };
                let mut passed: BTreeSet<&str> = literals
                    .iter()
                    .filter(|(end, literal)| is_argument(*end, literal))
                    .map(|(_, literal)| *literal)
                    .collect();
                if function.contains("self.order_args(") || function.contains("self.facts_args(") {
                    passed.extend(["order", "quantity", "title", "business"]);
                }
                for (end, literal) in &literals {
                    if is_argument(*end, literal) {
                        continue;
                    }
                    let looks_like_id = literal.contains('-')
                        && literal.starts_with(|c: char| c.is_ascii_lowercase())
                        && literal
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                    match english.get(*literal) {
                        Some(variables) => {
                            for variable in variables {
                                if !passed.contains(variable.as_str()) {
                                    problems.push(format!(
                                        "{file}: fn {name} renders {literal} without ${variable}"
                                    ));
                                }
                            }
                        }
                        None if looks_like_id => {
                            problems.push(format!("{file}: fn {name} names no message {literal:?}"))
                        }
                        None => {}
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn categories_are_recognised_by_label_or_name() {
        for catalog in CATALOGS.iter() {
            for category in Category::ALL {
                assert_eq!(
                    catalog.parse_category(catalog.category_label(category)),
                    Some(category)
                );
            }
        }
        let en = english();
        assert_eq!(en.parse_category("bakery"), Some(Category::Bakery));
        assert_eq!(en.parse_category("cake"), None);
        assert_eq!(german().parse_category("bäckerei"), Some(Category::Bakery));
    }
}
