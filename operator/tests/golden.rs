//! Golden files of `render` for every sample CR: the exact objects the operator applies.
//! `UPDATE_GOLDEN=1` rewrites them; review the diff like code.

use toogoodtogo_operator::crd::TooGoodToGo;
use toogoodtogo_operator::offline;

mod common;
use common::{examples, golden_dir, update_requested};

#[tokio::test]
async fn render_matches_golden_files() {
    let mut stale = Vec::new();
    for (name, value) in examples() {
        let cr: TooGoodToGo =
            serde_json::from_value(value).unwrap_or_else(|e| panic!("{name}: {e}"));
        let rendered = offline::render_yaml(&cr, &offline::placeholder_secrets(&cr))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let path = golden_dir().join(&name);
        if update_requested() {
            std::fs::write(&path, &rendered).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            continue;
        }
        let golden = std::fs::read_to_string(&path).unwrap_or_default();
        if golden != rendered {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "rendered objects differ from tests/golden for {stale:?}; \
         run `UPDATE_GOLDEN=1 cargo nextest run -p toogoodtogo-operator --test golden` and review the diff"
    );
}
