//! Slash commands and `/start` deep-link payloads.

/// The commands shown in Telegram's menu (setMyCommands, once per language); their
/// descriptions are the `command-*` messages.
pub const BOT_COMMANDS: &[&str] = &[
    "browse",
    "my_reservations",
    "favourites",
    "settings",
    "start",
    "help",
    "privacy",
    "delete_my_data",
    "register_business",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/start` with an optional deep-link payload.
    Start(Option<String>),
    Help,
    Privacy,
    DeleteMyData,
    RegisterBusiness,
    NewDeal,
    MyOffers,
    InviteStaff,
    /// Owners: the staff of their businesses, to remove members and revoke links.
    Staff,
    /// Admins only: business applications waiting for a decision.
    Pending,
    /// Business members: confirm a pickup, optionally with the code.
    Pickup(Option<String>),
    Browse,
    MyReservations,
    Favourites,
    Settings,
    /// In a dialogue: the previous step, abort, or skip an optional step.
    Back,
    Cancel,
    Skip,
    Unknown(String),
}

impl Command {
    /// Parses a message text; `None` when it is not a command. `/cmd@SomeBot` is accepted: in
    /// groups Telegram appends the bot's username.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.trim_start().strip_prefix('/')?;
        let (head, args) = rest
            .split_once(char::is_whitespace)
            .map_or((rest, ""), |(h, a)| (h, a.trim()));
        let name = head.split('@').next().unwrap_or(head).to_ascii_lowercase();
        if name.is_empty() {
            return None;
        }
        Some(match name.as_str() {
            "start" => Self::Start((!args.is_empty()).then(|| args.to_owned())),
            "help" => Self::Help,
            "privacy" => Self::Privacy,
            "delete_my_data" => Self::DeleteMyData,
            "register_business" => Self::RegisterBusiness,
            "newdeal" => Self::NewDeal,
            "myoffers" => Self::MyOffers,
            "invite_staff" => Self::InviteStaff,
            "staff" => Self::Staff,
            "pending" => Self::Pending,
            "pickup" => Self::Pickup((!args.is_empty()).then(|| args.to_owned())),
            "browse" => Self::Browse,
            "my_reservations" => Self::MyReservations,
            "favourites" | "favorites" => Self::Favourites,
            "settings" => Self::Settings,
            "back" => Self::Back,
            "cancel" => Self::Cancel,
            "skip" => Self::Skip,
            _ => Self::Unknown(name),
        })
    }
}

/// A `/start <payload>` deep link (`https://t.me/<bot>?start=<payload>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeepLink {
    /// `offer_<id>`: open an offer's details.
    Offer(i64),
    /// `business_invite_<token>`: join a business as staff.
    BusinessInvite(String),
    Unknown,
}

impl DeepLink {
    pub fn parse(payload: &str) -> Self {
        // Telegram allows A-Z, a-z, 0-9, _ and - in payloads, up to 64 characters.
        let well_formed = (1..=64).contains(&payload.len())
            && payload
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !well_formed {
            return Self::Unknown;
        }
        if let Some(token) = payload.strip_prefix("business_invite_") {
            if !token.is_empty() {
                return Self::BusinessInvite(token.to_owned());
            }
        } else if let Some(id) = payload.strip_prefix("offer_")
            && let Ok(id) = id.parse::<i64>()
            && id > 0
        {
            return Self::Offer(id);
        }
        Self::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_payloads_and_bot_mentions() {
        assert_eq!(Command::parse("/start"), Some(Command::Start(None)));
        assert_eq!(
            Command::parse("/start offer_12"),
            Some(Command::Start(Some("offer_12".into())))
        );
        assert_eq!(Command::parse("/HELP@TgtgBot"), Some(Command::Help));
        assert_eq!(
            Command::parse("/delete_my_data"),
            Some(Command::DeleteMyData)
        );
        assert_eq!(
            Command::parse("/nope x"),
            Some(Command::Unknown("nope".into()))
        );
        assert_eq!(Command::parse("/newdeal"), Some(Command::NewDeal));
        assert_eq!(
            Command::parse("/register_business"),
            Some(Command::RegisterBusiness)
        );
        assert_eq!(Command::parse("/Cancel"), Some(Command::Cancel));
        assert_eq!(Command::parse("/staff"), Some(Command::Staff));
        assert_eq!(Command::parse("hello /start"), None);
        assert_eq!(Command::parse("/"), None);
    }

    #[test]
    fn deep_links_are_recognised_or_unknown() {
        assert_eq!(DeepLink::parse("offer_42"), DeepLink::Offer(42));
        assert_eq!(
            DeepLink::parse("business_invite_AbC-9"),
            DeepLink::BusinessInvite("AbC-9".into())
        );
        for bad in [
            "offer_",
            "offer_-1",
            "offer_x",
            "business_invite_",
            "hi there",
            "x".repeat(65).as_str(),
        ] {
            assert_eq!(DeepLink::parse(bad), DeepLink::Unknown, "{bad}");
        }
    }
}
