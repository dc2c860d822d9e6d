//! Readable renderings of a loaded descriptor: [`dump`] (`ledgraph descriptor inspect`) and
//! [`diff`] (`ledgraph descriptor diff A B`). Plain deterministic text, snapshot-tested.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::format::section;
use super::load::Descriptor;
use crate::kernel::program::{
    ActionTemplate, Guard, GuardKind, NO_TERM, ProgramView, Rule, TermId, slot,
};

fn term(p: &ProgramView<'_>, id: TermId) -> String {
    if id == NO_TERM {
        return "-".into();
    }
    p.term(id).map_or_else(|| format!("#{id}"), str::to_owned)
}

fn guard(p: &ProgramView<'_>, g: &Guard) -> String {
    let t = |id| term(p, id);
    let what = match g.kind {
        GuardKind::DATATYPE => format!("datatype {}", t(g.a)),
        GuardKind::MIN_INCLUSIVE => format!(">= {}", g.value),
        GuardKind::MIN_EXCLUSIVE => format!("> {}", g.value),
        GuardKind::MAX_INCLUSIVE => format!("<= {}", g.value),
        GuardKind::MAX_EXCLUSIVE => format!("< {}", g.value),
        GuardKind::MIN_LENGTH => format!("length >= {}", g.a),
        GuardKind::MAX_LENGTH => format!("length <= {}", g.a),
        GuardKind::IN | GuardKind::NOT_IN => {
            let set = p
                .parts()
                .sets
                .get(g.a as usize..(g.a + g.b) as usize)
                .unwrap_or_default();
            let not = if g.kind == GuardKind::NOT_IN {
                "not "
            } else {
                ""
            };
            format!(
                "{not}in {{{}}}",
                set.iter().map(|&i| t(i)).collect::<Vec<_>>().join(" ")
            )
        }
        GuardKind::HAS_VALUE => format!("= {}", t(g.a)),
        GuardKind::NODE_KIND => format!("node kind mask {:#b}", g.a),
        GuardKind::CLASS => format!("instance of {}", t(g.a)),
        GuardKind::PATTERN => {
            let w = p.parts().warm.get(g.a as usize);
            format!(
                "matches {} (warm)",
                w.map_or_else(|| "?".into(), |w| t(w.pattern))
            )
        }
        other => format!("kind {other}"),
    };
    if g.subject_class == NO_TERM {
        what
    } else {
        format!("{what} when subject is a {}", t(g.subject_class))
    }
}

fn action(p: &ProgramView<'_>, a: &ActionTemplate) -> String {
    let s = |from: u8, id: TermId| match from {
        slot::SUBJECT => "?s".to_owned(),
        slot::OBJECT => "?o".to_owned(),
        _ => term(p, id),
    };
    match a.kind {
        ActionTemplate::EMIT => format!(
            "emit {} {} {}",
            s(a.s_from, a.s),
            s(a.p_from, a.p),
            s(a.o_from, a.o)
        ),
        _ => format!("alert {}", term(p, a.p)),
    }
}

fn rule_line(p: &ProgramView<'_>, r: &Rule) -> String {
    let parts = p.parts();
    let guards: Vec<String> = parts.guards[r.guard_start as usize..][..r.guard_len as usize]
        .iter()
        .map(|g| guard(p, g))
        .collect();
    let actions: Vec<String> = parts.actions[r.action_start as usize..][..r.action_len as usize]
        .iter()
        .map(|a| action(p, a))
        .collect();
    let class = if r.subject_class == NO_TERM {
        String::new()
    } else {
        format!(" subject a {}", term(p, r.subject_class))
    };
    format!(
        "{} [{}]{class}{}{} => {}",
        term(p, r.name),
        if r.path == Rule::WARM { "warm" } else { "hot" },
        if guards.is_empty() { "" } else { " if " },
        guards.join(" and "),
        actions.join("; ")
    )
}

/// Every table of `d`, with ids resolved to terms.
pub fn dump(d: &Descriptor<'_>) -> String {
    let mut out = String::new();
    let p = d.program();
    let h = p.header();
    let _ = writeln!(out, "descriptor sha256:{}", hex::encode(d.digest()));
    let _ = writeln!(out, "compiler: {}", d.compiler_version());
    let _ = writeln!(
        out,
        "input digest: sha256:{}",
        hex::encode(d.input_digest())
    );
    let _ = writeln!(out, "signed by ed25519 key {}", hex::encode(d.public_key()));
    let _ = writeln!(out, "size: {} bytes", d.bytes().len());
    let _ = writeln!(out, "sections:");
    for &(id, offset, len) in d.sections() {
        let _ = writeln!(
            out,
            "  {:>2} {:<14} offset {offset:>7} length {len:>7}",
            id,
            section::name(id)
        );
    }
    let _ = writeln!(
        out,
        "program: abi {}, {} terms, {} classes, rdf:type = {}, at most {} actions per observation",
        h.abi_version,
        h.term_count,
        h.class_count,
        term(&p, h.rdf_type),
        h.actions_per_observation_max
    );
    let parts = p.parts();
    let _ = writeln!(out, "dispatch:");
    for (id, entry) in parts.dispatch.iter().enumerate() {
        if entry.guard_len == 0 && entry.rule_len == 0 {
            continue;
        }
        let _ = writeln!(out, "  {}", term(&p, id as TermId));
        for (i, g) in parts.guards[entry.guard_start as usize..][..entry.guard_len as usize]
            .iter()
            .enumerate()
        {
            let index = entry.guard_start + i as u32;
            let message = d
                .guard_message(index)
                .map(|m| format!(" — {m}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    admit if {} ({}){message}",
                guard(&p, g),
                term(&p, g.name)
            );
        }
        for r in &parts.rules[entry.rule_start as usize..][..entry.rule_len as usize] {
            let _ = writeln!(out, "    rule {}", rule_line(&p, r));
        }
    }
    let _ = writeln!(out, "classes (with superclasses):");
    let words = h.class_words as usize;
    for c in 0..h.class_count as usize {
        let row = &parts.class_closure[c * words..][..words];
        let supers: Vec<String> = (0..h.class_count as usize)
            .filter(|&s| s != c && row[s / 64] >> (s % 64) & 1 == 1)
            .map(|s| term(&p, s as TermId))
            .collect();
        let _ = writeln!(
            out,
            "  {}{}",
            term(&p, c as TermId),
            if supers.is_empty() {
                String::new()
            } else {
                format!(" ⊑ {}", supers.join(" "))
            }
        );
    }
    let _ = writeln!(out, "alerts:");
    for m in d
        .messages()
        .filter(|m| m.kind == super::format::MessageEntry::ACTION)
    {
        let a = &parts.actions[m.index as usize];
        let _ = writeln!(
            out,
            "  action {} on {}: {}",
            m.index,
            term(&p, a.p),
            term(&p, m.message)
        );
    }
    let _ = writeln!(out, "report:");
    for line in d.report().lines() {
        let _ = writeln!(out, "  {line}");
    }
    out
}

fn rule_set(d: &Descriptor<'_>) -> BTreeSet<String> {
    let p = d.program();
    let parts = p.parts();
    let mut out = BTreeSet::new();
    for (id, entry) in parts.dispatch.iter().enumerate() {
        for g in &parts.guards[entry.guard_start as usize..][..entry.guard_len as usize] {
            out.insert(format!(
                "{}: admit if {} ({})",
                term(&p, id as TermId),
                guard(&p, g),
                term(&p, g.name)
            ));
        }
        for r in &parts.rules[entry.rule_start as usize..][..entry.rule_len as usize] {
            out.insert(format!(
                "{}: rule {}",
                term(&p, id as TermId),
                rule_line(&p, r)
            ));
        }
    }
    out
}

/// What changed from `a` to `b`: header fields, terms, admission guards and rules.
pub fn diff(a: &Descriptor<'_>, b: &Descriptor<'_>) -> String {
    let mut out = String::new();
    if a.digest() == b.digest() {
        let _ = writeln!(out, "identical: sha256:{}", hex::encode(a.digest()));
        return out;
    }
    let _ = writeln!(out, "--- sha256:{}", hex::encode(a.digest()));
    let _ = writeln!(out, "+++ sha256:{}", hex::encode(b.digest()));
    let mut field = |name: &str, x: String, y: String| {
        if x != y {
            let _ = writeln!(out, "{name}: {x} -> {y}");
        }
    };
    field(
        "compiler",
        a.compiler_version().into(),
        b.compiler_version().into(),
    );
    field(
        "input digest",
        hex::encode(a.input_digest()),
        hex::encode(b.input_digest()),
    );
    field(
        "signer",
        hex::encode(a.public_key()),
        hex::encode(b.public_key()),
    );
    let (ha, hb) = (*a.program().header(), *b.program().header());
    field(
        "terms",
        ha.term_count.to_string(),
        hb.term_count.to_string(),
    );
    field(
        "classes",
        ha.class_count.to_string(),
        hb.class_count.to_string(),
    );
    let terms = |d: &Descriptor<'_>| {
        d.program()
            .terms()
            .map(|(_, t)| t.to_owned())
            .collect::<BTreeSet<_>>()
    };
    let (ta, tb) = (terms(a), terms(b));
    for t in ta.difference(&tb) {
        let _ = writeln!(out, "- term {t}");
    }
    for t in tb.difference(&ta) {
        let _ = writeln!(out, "+ term {t}");
    }
    let (ra, rb) = (rule_set(a), rule_set(b));
    for r in ra.difference(&rb) {
        let _ = writeln!(out, "- {r}");
    }
    for r in rb.difference(&ra) {
        let _ = writeln!(out, "+ {r}");
    }
    out
}
