//! `$expr` inside filters (needs `crate::expr`): manual "$expr" examples, truthiness of
//! aggregation values, `let` variables, and evaluation errors surfacing from `matches`.

use bson::{doc, Document, RawDocumentBuf};
use documentdb_query::filter::Filter;

fn raw(d: &Document) -> RawDocumentBuf {
    RawDocumentBuf::try_from(d).unwrap()
}

fn ids(f: Document, docs: &[Document]) -> Vec<i32> {
    let fl = Filter::parse(&raw(&f)).unwrap();
    docs.iter().filter(|d| fl.matches(&raw(d)).unwrap()).map(|d| d.get_i32("_id").unwrap()).collect()
}

#[test]
fn expr_compares_two_fields_per_manual_expr() {
    let docs = [
        doc! {"_id": 1, "category": "food", "budget": 400, "spent": 450},
        doc! {"_id": 2, "category": "drinks", "budget": 100, "spent": 150},
        doc! {"_id": 3, "category": "clothes", "budget": 100, "spent": 50},
        doc! {"_id": 4, "category": "misc", "budget": 500, "spent": 300},
        doc! {"_id": 5, "category": "travel", "budget": 200, "spent": 650},
    ];
    assert_eq!(ids(doc! {"$expr": {"$gt": ["$spent", "$budget"]}}, &docs), vec![1, 2, 5]);
    // Combined with ordinary predicates.
    assert_eq!(ids(doc! {"budget": {"$gte": 200}, "$expr": {"$gt": ["$spent", "$budget"]}}, &docs), vec![1, 5]);
    assert_eq!(ids(doc! {"$or": [{"$expr": {"$lt": ["$spent", 100]}}, {"_id": 4}]}, &docs), vec![3, 4]);
}

#[test]
fn expr_uses_aggregation_truthiness_per_manual_expr() {
    let docs = [
        doc! {"_id": 1, "v": 0},
        doc! {"_id": 2, "v": 2},
        doc! {"_id": 3, "v": null},
        doc! {"_id": 4},
        doc! {"_id": 5, "v": ""},
        doc! {"_id": 6, "v": false},
        doc! {"_id": 7, "v": []},
    ];
    assert_eq!(ids(doc! {"$expr": "$v"}, &docs), vec![2, 5, 7]);
    assert_eq!(ids(doc! {"$expr": true}, &docs).len(), 7);
    assert_eq!(ids(doc! {"$expr": 0}, &docs), Vec::<i32>::new());
}

#[test]
fn expr_errors_surface_from_matches_per_manual_expr() {
    let f = Filter::parse(&raw(&doc! {"$expr": {"$gt": [{"$divide": [1, "$d"]}, 0]}})).unwrap();
    assert!(f.has_expr());
    assert!(f.matches(&raw(&doc! {"d": 1})).unwrap());
    assert!(f.matches(&raw(&doc! {"d": 0})).is_err());
    assert!(f.matches_positional(&raw(&doc! {"d": 0})).is_err());
}

#[test]
fn expr_sees_let_variables_per_manual_find_let() {
    let vars = doc! {"target": 150};
    let f = Filter::parse_with_variables(&raw(&doc! {"$expr": {"$eq": ["$spent", "$$target"]}}), &vars).unwrap();
    assert!(f.matches(&raw(&doc! {"spent": 150})).unwrap());
    assert!(!f.matches(&raw(&doc! {"spent": 151})).unwrap());
}
