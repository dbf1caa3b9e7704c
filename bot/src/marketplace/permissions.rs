//! Who may do what for a business: the one permission table every business command and button
//! consults. The presser's role is looked up when they press (never taken from the message the
//! button sits on), so a removed member's old buttons stop working at once.

/// How someone acts for a business. `Admin` is a marketplace admin (configured, not a member);
/// admins may do everything an owner may, so that they can step in for a business.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Staff,
    Admin,
}

impl Role {
    /// A `business_members.role` value (admins are not stored as members).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "owner" => Some(Self::Owner),
            "staff" => Some(Self::Staff),
            _ => None,
        }
    }
}

/// Everything a business command or button does, as far as permissions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// An offer's reservation list.
    SeeReservations,
    /// Mark a reservation picked up (by code or from the list).
    ConfirmPickup,
    /// Post a new deal.
    PostDeal,
    /// Pause, resume, edit, view or share a deal, and end one without paid reservations.
    ManageDeal,
    /// End a deal that has paid reservations (it refunds them).
    EndDealWithPaid,
    /// Refund a paid reservation.
    Refund,
    /// Change the business's profile or how its customers pay.
    EditBusiness,
    /// Create staff invitation links.
    InviteStaff,
    /// See the staff, remove a member, revoke invitation links.
    ManageStaff,
}

impl Action {
    pub const ALL: [Self; 9] = [
        Self::SeeReservations,
        Self::ConfirmPickup,
        Self::PostDeal,
        Self::ManageDeal,
        Self::EndDealWithPaid,
        Self::Refund,
        Self::EditBusiness,
        Self::InviteStaff,
        Self::ManageStaff,
    ];
}

/// The permission table (README, "Roles"). Staff handle the day's deals and the counter; money
/// leaving the business, its identity and who acts for it stay with the owner.
pub fn allowed(role: Role, action: Action) -> bool {
    match role {
        Role::Owner | Role::Admin => true,
        // Exhaustive on purpose: a new action must be decided for staff explicitly.
        Role::Staff => match action {
            Action::SeeReservations
            | Action::ConfirmPickup
            | Action::PostDeal
            | Action::ManageDeal => true,
            Action::EndDealWithPaid
            | Action::Refund
            | Action::EditBusiness
            | Action::InviteStaff
            | Action::ManageStaff => false,
        },
    }
}

/// The outcome of a permission check for one press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Allowed(Role),
    /// The presser does not act for the business (or no longer does).
    NotMember,
    /// The presser acts for the business, but the action is the owner's.
    OwnerOnly,
}

impl Access {
    pub fn decide(role: Option<Role>, action: Action) -> Self {
        match role {
            None => Self::NotMember,
            Some(role) if allowed(role, action) => Self::Allowed(role),
            Some(_) => Self::OwnerOnly,
        }
    }
}

/// The presser's role from their membership and whether they are a marketplace admin: an
/// owner stays owner, anyone else who is an admin acts as admin.
pub fn effective_role(member: Option<Role>, is_admin: bool) -> Option<Role> {
    match member {
        Some(Role::Owner) => Some(Role::Owner),
        _ if is_admin => Some(Role::Admin),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test per cell of the table.
    macro_rules! cell {
        ($($name:ident: $role:ident, $action:ident => $expected:expr;)*) => {
            $(
                #[test]
                fn $name() {
                    assert_eq!(allowed(Role::$role, Action::$action), $expected);
                }
            )*
            #[test]
            fn every_cell_is_tested() {
                let cells = [$((Role::$role, Action::$action)),*];
                for role in [Role::Owner, Role::Staff, Role::Admin] {
                    for action in Action::ALL {
                        assert_eq!(
                            cells.iter().filter(|c| **c == (role, action)).count(),
                            1,
                            "{role:?} {action:?}"
                        );
                    }
                }
            }
        };
    }

    cell! {
        owner_sees_reservations: Owner, SeeReservations => true;
        owner_confirms_pickups: Owner, ConfirmPickup => true;
        owner_posts_deals: Owner, PostDeal => true;
        owner_manages_deals: Owner, ManageDeal => true;
        owner_ends_deals_with_paid_reservations: Owner, EndDealWithPaid => true;
        owner_refunds: Owner, Refund => true;
        owner_edits_the_business: Owner, EditBusiness => true;
        owner_invites_staff: Owner, InviteStaff => true;
        owner_manages_staff: Owner, ManageStaff => true;
        staff_see_reservations: Staff, SeeReservations => true;
        staff_confirm_pickups: Staff, ConfirmPickup => true;
        staff_post_deals: Staff, PostDeal => true;
        staff_manage_deals: Staff, ManageDeal => true;
        staff_may_not_end_deals_with_paid_reservations: Staff, EndDealWithPaid => false;
        staff_may_not_refund: Staff, Refund => false;
        staff_may_not_edit_the_business: Staff, EditBusiness => false;
        staff_may_not_invite_staff: Staff, InviteStaff => false;
        staff_may_not_manage_staff: Staff, ManageStaff => false;
        admin_sees_reservations: Admin, SeeReservations => true;
        admin_confirms_pickups: Admin, ConfirmPickup => true;
        admin_posts_deals: Admin, PostDeal => true;
        admin_manages_deals: Admin, ManageDeal => true;
        admin_ends_deals_with_paid_reservations: Admin, EndDealWithPaid => true;
        admin_refunds: Admin, Refund => true;
        admin_edits_the_business: Admin, EditBusiness => true;
        admin_invites_staff: Admin, InviteStaff => true;
        admin_manages_staff: Admin, ManageStaff => true;
    }

    #[test]
    fn non_members_and_refusals_are_told_apart() {
        assert_eq!(Access::decide(None, Action::ManageDeal), Access::NotMember);
        assert_eq!(
            Access::decide(Some(Role::Staff), Action::Refund),
            Access::OwnerOnly
        );
        assert_eq!(
            Access::decide(Some(Role::Staff), Action::ConfirmPickup),
            Access::Allowed(Role::Staff)
        );
    }

    #[test]
    fn admins_act_as_admins_unless_they_own_the_business() {
        assert_eq!(effective_role(None, true), Some(Role::Admin));
        assert_eq!(effective_role(Some(Role::Staff), true), Some(Role::Admin));
        assert_eq!(effective_role(Some(Role::Owner), true), Some(Role::Owner));
        assert_eq!(effective_role(Some(Role::Staff), false), Some(Role::Staff));
        assert_eq!(effective_role(None, false), None);
    }
}
