//! A BSBM-like data set (Berlin SPARQL Benchmark: products, producers, features, vendors,
//! offers, reviewers, reviews), generated deterministically as N-Triples.
//!
//! It uses BSBM's vocabulary and shape (≈ 150 triples per product: ~20 for the product, 8
//! offers, 5 reviews) but not its exact distributions: features are drawn from a pool of
//! [`FEATURES_PER_TYPE`] per product type so that the queries in `benches/queries/` (which
//! name `ProductType1`, `ProductFeature21`, `Product42`, …) select a few rows at any scale.
//! It is not a BSBM implementation and its numbers are not comparable with published BSBM
//! results. Every line is one triple and every triple is distinct, so a data set of N lines is
//! N events for ledgraph and N triples for Oxigraph.

use std::fmt::Write as _;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub const INST: &str = "http://bench.ledgraph.example/bsbm/instances/";
pub const VOC: &str = "http://www4.wiwiss.fu-berlin.de/bizer/bsbm/v01/vocabulary/";
const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
const RDFS: &str = "http://www.w3.org/2000/01/rdf-schema#";
const DC: &str = "http://purl.org/dc/elements/1.1/";
const FOAF: &str = "http://xmlns.com/foaf/0.1/";
const REV: &str = "http://purl.org/stuff/rev#";
const XSD: &str = "http://www.w3.org/2001/XMLSchema#";
const COUNTRIES: &str = "http://downlode.org/rdf/iso-3166/countries#";
const COUNTRY_CODES: &[&str] = &["US", "GB", "DE", "FR", "JP", "CN", "RU", "ES", "AT", "KR"];
const WORDS: &[&str] = &[
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "amber", "basalt", "cobalt", "dune",
];

/// Products per product type, producer, vendor and reviewer (how the other entities scale).
const PRODUCTS_PER_TYPE: u64 = 50;
const PRODUCTS_PER_PRODUCER: u64 = 20;
const PRODUCTS_PER_VENDOR: u64 = 100;
const PRODUCTS_PER_REVIEWER: u64 = 5;
pub const FEATURES_PER_TYPE: u64 = 20;
const OFFERS_PER_PRODUCT: u64 = 8;
const REVIEWS_PER_PRODUCT: u64 = 5;
/// Triples per product, offers and reviews included (measured on the generator, rounded).
const TRIPLES_PER_PRODUCT: u64 = 148;
/// Bumped whenever the generator's output changes, so cached files are not reused.
const GENERATOR_VERSION: u32 = 1;

/// xorshift64*: deterministic, so every run and both systems see the same data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

struct Writer<W: Write> {
    out: W,
    line: String,
    triples: u64,
}

impl<W: Write> Writer<W> {
    fn triple(&mut self, s: &str, p: &str, o: &str) -> Result<()> {
        self.line.clear();
        writeln!(self.line, "<{s}> <{p}> {o} .")?;
        self.out.write_all(self.line.as_bytes())?;
        self.triples += 1;
        Ok(())
    }
}

fn iri(s: &str) -> String {
    format!("<{s}>")
}

fn typed(value: impl std::fmt::Display, datatype: &str) -> String {
    format!("\"{value}\"^^<{XSD}{datatype}>")
}

fn date_time(rng: &mut Rng) -> String {
    let (month, day) = (rng.range(1, 12), rng.range(1, 28));
    typed(format!("2008-{month:02}-{day:02}T00:00:00"), "dateTime")
}

fn words(rng: &mut Rng, n: u64) -> String {
    (0..n)
        .map(|_| WORDS[rng.range(0, WORDS.len() as u64 - 1) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

fn country(rng: &mut Rng) -> String {
    let code = COUNTRY_CODES[rng.range(0, COUNTRY_CODES.len() as u64 - 1) as usize];
    iri(&format!("{COUNTRIES}{code}"))
}

struct Scale {
    products: u64,
    types: u64,
    producers: u64,
    vendors: u64,
    reviewers: u64,
}

impl Scale {
    fn for_triples(triples: u64) -> Scale {
        let products = triples.div_ceil(TRIPLES_PER_PRODUCT).max(1);
        Scale {
            products,
            types: products.div_ceil(PRODUCTS_PER_TYPE),
            producers: products.div_ceil(PRODUCTS_PER_PRODUCER),
            vendors: products.div_ceil(PRODUCTS_PER_VENDOR),
            reviewers: products.div_ceil(PRODUCTS_PER_REVIEWER),
        }
    }
}

/// Writes at least `triples_min` triples (whole products; trimmed to exactly `triples_min`
/// lines) to `out`; returns the number written.
pub fn generate(out: impl Write, triples_min: u64) -> Result<u64> {
    let scale = Scale::for_triples(triples_min);
    let mut w = Writer {
        out: BufWriter::new(out),
        line: String::new(),
        triples: 0,
    };
    let mut rng = Rng::new(0xB5B_D00D);
    let label = format!("{RDFS}label");
    let a = RDF_TYPE;
    for t in 1..=scale.types {
        let s = format!("{INST}ProductType{t}");
        w.triple(&s, a, &iri(&format!("{VOC}ProductType")))?;
        w.triple(&s, &label, &format!("\"product type {t}\""))?;
        for f in t * FEATURES_PER_TYPE..(t + 1) * FEATURES_PER_TYPE {
            let s = format!("{INST}ProductFeature{f}");
            w.triple(&s, a, &iri(&format!("{VOC}ProductFeature")))?;
            w.triple(&s, &label, &format!("\"feature {f}\""))?;
        }
    }
    for (class, n) in [("Producer", scale.producers), ("Vendor", scale.vendors)] {
        for i in 1..=n {
            let s = format!("{INST}{class}{i}");
            w.triple(&s, a, &iri(&format!("{VOC}{class}")))?;
            w.triple(&s, &label, &format!("\"{} {i}\"", class.to_lowercase()))?;
            w.triple(&s, &format!("{VOC}country"), &country(&mut rng))?;
            let page = format!("http://www.{}{i}.example/", class.to_lowercase());
            w.triple(&s, &format!("{FOAF}homepage"), &iri(&page))?;
        }
    }
    for r in 1..=scale.reviewers {
        let s = format!("{INST}Reviewer{r}");
        w.triple(&s, a, &iri(&format!("{FOAF}Person")))?;
        w.triple(
            &s,
            &format!("{FOAF}name"),
            &format!("\"{}\"", words(&mut rng, 2)),
        )?;
        let sha = format!("\"{:016x}{:016x}\"", rng.next(), rng.next());
        w.triple(&s, &format!("{FOAF}mbox_sha1sum"), &sha)?;
        w.triple(&s, &format!("{VOC}country"), &country(&mut rng))?;
    }
    for p in 1..=scale.products {
        product(&mut w, &mut rng, &scale, p)?;
    }
    w.out.flush()?;
    Ok(w.triples)
}

fn product<W: Write>(w: &mut Writer<W>, rng: &mut Rng, scale: &Scale, p: u64) -> Result<()> {
    let s = format!("{INST}Product{p}");
    let t = (p - 1) % scale.types + 1;
    let producer = iri(&format!("{INST}Producer{}", rng.range(1, scale.producers)));
    w.triple(&s, RDF_TYPE, &iri(&format!("{VOC}Product")))?;
    w.triple(&s, RDF_TYPE, &iri(&format!("{INST}ProductType{t}")))?;
    w.triple(
        &s,
        &format!("{RDFS}label"),
        &format!("\"{} {p}\"", words(rng, 2)),
    )?;
    w.triple(
        &s,
        &format!("{RDFS}comment"),
        &format!("\"{}\"", words(rng, 12)),
    )?;
    w.triple(&s, &format!("{VOC}producer"), &producer)?;
    let mut features: Vec<u64> = (0..rng.range(5, 10))
        .map(|_| t * FEATURES_PER_TYPE + rng.range(0, FEATURES_PER_TYPE - 1))
        .collect();
    features.sort_unstable();
    features.dedup();
    for f in features {
        let feature = iri(&format!("{INST}ProductFeature{f}"));
        w.triple(&s, &format!("{VOC}productFeature"), &feature)?;
    }
    for i in 1..=3 {
        let value = typed(rng.range(1, 2000), "integer");
        w.triple(&s, &format!("{VOC}productPropertyNumeric{i}"), &value)?;
        let text = format!("\"{}\"", words(rng, 3));
        w.triple(&s, &format!("{VOC}productPropertyTextual{i}"), &text)?;
    }
    w.triple(&s, &format!("{DC}publisher"), &producer)?;
    w.triple(&s, &format!("{DC}date"), &date_time(rng))?;
    for o in 1..=OFFERS_PER_PRODUCT {
        offer(w, rng, scale, p, o)?;
    }
    for r in 1..=REVIEWS_PER_PRODUCT {
        review(w, rng, scale, p, r)?;
    }
    Ok(())
}

fn offer<W: Write>(w: &mut Writer<W>, rng: &mut Rng, scale: &Scale, p: u64, o: u64) -> Result<()> {
    let s = format!("{INST}Offer{p}_{o}");
    let vendor = iri(&format!("{INST}Vendor{}", rng.range(1, scale.vendors)));
    w.triple(&s, RDF_TYPE, &iri(&format!("{VOC}Offer")))?;
    w.triple(
        &s,
        &format!("{VOC}product"),
        &iri(&format!("{INST}Product{p}")),
    )?;
    w.triple(&s, &format!("{VOC}vendor"), &vendor)?;
    let price = format!("{}.{:02}", rng.range(5, 9_999), rng.range(0, 99));
    w.triple(&s, &format!("{VOC}price"), &typed(price, "decimal"))?;
    w.triple(&s, &format!("{VOC}validFrom"), &date_time(rng))?;
    w.triple(&s, &format!("{VOC}validTo"), &date_time(rng))?;
    let days = typed(rng.range(1, 7), "integer");
    w.triple(&s, &format!("{VOC}deliveryDays"), &days)?;
    let page = iri(&format!("http://www.vendor.example/offers/{p}_{o}"));
    w.triple(&s, &format!("{VOC}offerWebpage"), &page)?;
    w.triple(&s, &format!("{DC}publisher"), &vendor)?;
    w.triple(&s, &format!("{DC}date"), &date_time(rng))
}

fn review<W: Write>(w: &mut Writer<W>, rng: &mut Rng, scale: &Scale, p: u64, r: u64) -> Result<()> {
    let s = format!("{INST}Review{p}_{r}");
    let reviewer = iri(&format!("{INST}Reviewer{}", rng.range(1, scale.reviewers)));
    w.triple(&s, RDF_TYPE, &iri(&format!("{VOC}Review")))?;
    w.triple(
        &s,
        &format!("{VOC}reviewFor"),
        &iri(&format!("{INST}Product{p}")),
    )?;
    w.triple(&s, &format!("{REV}reviewer"), &reviewer)?;
    w.triple(&s, &format!("{VOC}reviewDate"), &date_time(rng))?;
    w.triple(&s, &format!("{DC}title"), &format!("\"{}\"", words(rng, 4)))?;
    let lang = if rng.range(0, 3) == 0 { "de" } else { "en" };
    let text = format!("\"{}\"@{lang}", words(rng, 20));
    w.triple(&s, &format!("{REV}text"), &text)?;
    for i in 1..=4 {
        // A quarter of the ratings are missing, as in BSBM (queries read them with OPTIONAL).
        if rng.range(0, 3) != 0 {
            let rating = typed(rng.range(1, 10), "integer");
            w.triple(&s, &format!("{VOC}rating{i}"), &rating)?;
        }
    }
    w.triple(&s, &format!("{DC}publisher"), &reviewer)
}

/// The data set of exactly `triples` lines, generated once into [`super::cache_dir`].
pub fn dataset(triples: u64) -> Result<PathBuf> {
    let dir = super::cache_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let path = dir.join(format!("bsbm-v{GENERATOR_VERSION}-{triples}.nt"));
    if path.exists() {
        return Ok(path);
    }
    eprintln!("generating {} ({triples} triples)", path.display());
    let partial = path.with_extension("nt.partial");
    let mut buffer = Vec::new();
    generate(&mut buffer, triples)?;
    let text = String::from_utf8(buffer).context("generated data is UTF-8")?;
    let mut out = BufWriter::new(std::fs::File::create(&partial)?);
    for line in text.lines().take(triples as usize) {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    drop(out);
    std::fs::rename(&partial, &path)?;
    Ok(path)
}

/// The lines of `path` in request bodies of `per_chunk` lines each.
pub fn chunks(path: &Path, per_chunk: usize) -> Result<Vec<String>> {
    let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut out = Vec::new();
    let mut current = String::new();
    let mut lines = 0;
    for line in std::io::BufReader::new(file).lines() {
        current.push_str(&line?);
        current.push('\n');
        lines += 1;
        if lines == per_chunk {
            out.push(std::mem::take(&mut current));
            lines = 0;
        }
    }
    if lines > 0 {
        out.push(current);
    }
    Ok(out)
}

/// The last line (triple) of an N-Triples body, without the final " .", for an ASK pattern.
pub fn last_triple_pattern(body: &str) -> Option<&str> {
    let line = body.lines().rev().find(|l| !l.trim().is_empty())?;
    Some(line.trim_end().strip_suffix('.')?.trim_end())
}
