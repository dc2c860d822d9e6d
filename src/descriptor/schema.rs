//! The ontology as lookups: reflexive-transitive closures of subclass and subproperty,
//! inverse and symmetric properties, domains, ranges and disjointness. Built once from the
//! [`Model`] and shared by the checker and the builder.

use std::collections::{BTreeMap, BTreeSet};

use oxrdf::NamedNode;

use super::extract::{Model, is_datatype};

type Closure = BTreeMap<NamedNode, BTreeSet<NamedNode>>;

#[derive(Debug, Default)]
pub struct Schema {
    /// Class → itself and every superclass.
    pub superclasses: Closure,
    /// Class → itself and every subclass.
    pub subclasses: Closure,
    /// Property → itself and every super-property.
    pub superproperties: Closure,
    /// Property → its inverses (both directions of `owl:inverseOf`).
    pub inverses: Closure,
    pub symmetric: BTreeSet<NamedNode>,
    pub domains: Closure,
    /// Class ranges only.
    pub class_ranges: Closure,
    /// Datatype ranges only.
    pub datatype_ranges: Closure,
    /// Class → classes declared disjoint with it (both directions).
    pub disjoint: Closure,
}

fn closure(edges: &BTreeSet<(NamedNode, NamedNode)>, nodes: &BTreeSet<NamedNode>) -> Closure {
    let mut direct: Closure = BTreeMap::new();
    for (a, b) in edges {
        direct.entry(a.clone()).or_default().insert(b.clone());
    }
    let mut out = Closure::new();
    let all: BTreeSet<&NamedNode> = nodes
        .iter()
        .chain(edges.iter().flat_map(|(a, b)| [a, b]))
        .collect();
    for node in all {
        let mut seen = BTreeSet::from([node.clone()]);
        let mut stack = vec![node.clone()];
        while let Some(n) = stack.pop() {
            for next in direct.get(&n).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        out.insert(node.clone(), seen);
    }
    out
}

fn reversed(edges: &BTreeSet<(NamedNode, NamedNode)>) -> BTreeSet<(NamedNode, NamedNode)> {
    edges.iter().map(|(a, b)| (b.clone(), a.clone())).collect()
}

fn multimap(pairs: impl IntoIterator<Item = (NamedNode, NamedNode)>) -> Closure {
    let mut out = Closure::new();
    for (a, b) in pairs {
        out.entry(a).or_default().insert(b);
    }
    out
}

impl Schema {
    pub fn new(model: &Model) -> Schema {
        let inverse_pairs = model
            .inverse_of
            .iter()
            .flat_map(|(a, b)| [(a.clone(), b.clone()), (b.clone(), a.clone())]);
        let disjoint_pairs = model
            .disjoint
            .iter()
            .flat_map(|(a, b)| [(a.clone(), b.clone()), (b.clone(), a.clone())]);
        let (datatype, class): (Vec<_>, Vec<_>) = model
            .range
            .iter()
            .cloned()
            .partition(|(_, r)| is_datatype(r.as_str()));
        Schema {
            superclasses: closure(&model.subclass_of, &model.classes),
            subclasses: closure(&reversed(&model.subclass_of), &model.classes),
            superproperties: closure(&model.subproperty_of, &model.properties),
            inverses: multimap(inverse_pairs),
            symmetric: model.symmetric.clone(),
            domains: multimap(model.domain.iter().cloned()),
            class_ranges: multimap(class),
            datatype_ranges: multimap(datatype),
            disjoint: multimap(disjoint_pairs),
        }
    }

    /// Itself and its superclasses (just itself for an unknown class).
    pub fn supers_of_class(&self, class: &NamedNode) -> BTreeSet<NamedNode> {
        self.superclasses
            .get(class)
            .cloned()
            .unwrap_or_else(|| BTreeSet::from([class.clone()]))
    }

    pub fn is_subclass(&self, sub: &NamedNode, sup: &NamedNode) -> bool {
        sub == sup || self.superclasses.get(sub).is_some_and(|s| s.contains(sup))
    }

    /// Whether an instance of both classes would contradict a disjointness axiom.
    pub fn classes_disjoint(&self, a: &NamedNode, b: &NamedNode) -> Option<(NamedNode, NamedNode)> {
        let sa = self.supers_of_class(a);
        let sb = self.supers_of_class(b);
        for x in &sa {
            for y in self.disjoint.get(x).into_iter().flatten() {
                if sb.contains(y) {
                    return Some((x.clone(), y.clone()));
                }
            }
        }
        None
    }

    /// Itself and its super-properties.
    pub fn supers_of_property(&self, p: &NamedNode) -> BTreeSet<NamedNode> {
        self.superproperties
            .get(p)
            .cloned()
            .unwrap_or_else(|| BTreeSet::from([p.clone()]))
    }

    /// Datatype ranges of `p` and of its super-properties.
    pub fn datatypes_of(&self, p: &NamedNode) -> BTreeSet<NamedNode> {
        self.supers_of_property(p)
            .iter()
            .flat_map(|q| self.datatype_ranges.get(q).into_iter().flatten().cloned())
            .collect()
    }
}
