//! KPI formulas as expressions over KPI keys, and a normal form that makes two formulas that
//! compute the same thing look the same: `total_spend / customers_won` and
//! `ratio(metric("total_spend"), metric("customers_won"))` and `metric("cac")` all normalise to
//! one string. The MECE structure check uses it to find duplicate KPIs.
//!
//! The normal form is a sum of terms, each a coefficient times a product of atoms raised to
//! integer powers: sums and products are flattened and sorted, constants folded, products
//! distributed over sums and division by a single term turned into negative powers. A division
//! by a sum stays an atom of its own (normalised inside).

use std::collections::BTreeMap;
use std::ops;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(f64),
    /// A KPI (built-in, custom or base measure) in the current period and segment.
    Kpi(String),
    /// A KPI in the previous period.
    Previous(String),
    /// `count_events(kind)` or, with `sum`, `sum_events(kind)`.
    Events {
        kind: String,
        sum: bool,
    },
    Add(Box<Expr>, Box<Expr>),
    Sub(Box<Expr>, Box<Expr>),
    Mul(Box<Expr>, Box<Expr>),
    /// Null on a zero or null denominator, as `ratio` and the built-in formulas are.
    Div(Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    /// Any other function, kept by name with its arguments.
    Call(String, Vec<Expr>),
}

impl Expr {
    pub fn kpi(key: &str) -> Expr {
        Expr::Kpi(key.to_owned())
    }

    /// The value with null propagation; `lookup(key, previous)` reads a KPI. Functions other
    /// than the arithmetic ones are null here.
    pub fn eval(&self, lookup: &dyn Fn(&str, bool) -> Option<f64>) -> Option<f64> {
        let bin = |a: &Expr, b: &Expr| Some((a.eval(lookup)?, b.eval(lookup)?));
        match self {
            Expr::Num(x) => Some(*x),
            Expr::Kpi(k) => lookup(k, false),
            Expr::Previous(k) => lookup(k, true),
            Expr::Events { .. } | Expr::Call(..) => None,
            Expr::Add(a, b) => bin(a, b).map(|(a, b)| a + b),
            Expr::Sub(a, b) => bin(a, b).map(|(a, b)| a - b),
            Expr::Mul(a, b) => bin(a, b).map(|(a, b)| a * b),
            Expr::Div(a, b) => bin(a, b).and_then(|(a, b)| (b != 0.0).then(|| a / b)),
            Expr::Neg(a) => a.eval(lookup).map(|a| -a),
        }
    }
}

impl ops::Add for Expr {
    type Output = Expr;
    fn add(self, rhs: Expr) -> Expr {
        Expr::Add(Box::new(self), Box::new(rhs))
    }
}

impl ops::Sub for Expr {
    type Output = Expr;
    fn sub(self, rhs: Expr) -> Expr {
        Expr::Sub(Box::new(self), Box::new(rhs))
    }
}

impl ops::Mul for Expr {
    type Output = Expr;
    fn mul(self, rhs: Expr) -> Expr {
        Expr::Mul(Box::new(self), Box::new(rhs))
    }
}

impl ops::Div for Expr {
    type Output = Expr;
    fn div(self, rhs: Expr) -> Expr {
        Expr::Div(Box::new(self), Box::new(rhs))
    }
}

impl ops::Neg for Expr {
    type Output = Expr;
    fn neg(self) -> Expr {
        Expr::Neg(Box::new(self))
    }
}

/// Atom → power.
type Monomial = BTreeMap<String, i32>;

/// Monomial → coefficient; empty is zero.
#[derive(Debug, Clone, Default, PartialEq)]
struct Poly(BTreeMap<Monomial, f64>);

/// Coefficients are compared at 12 significant digits, so `0.01 × 100` equals `1`.
fn coefficient(c: f64) -> String {
    format!("{c:.11e}")
}

impl Poly {
    fn num(c: f64) -> Poly {
        let mut p = Poly::default();
        p.push(Monomial::new(), c);
        p
    }

    fn atom(name: String) -> Poly {
        let mut p = Poly::default();
        p.push(Monomial::from([(name, 1)]), 1.0);
        p
    }

    fn push(&mut self, m: Monomial, c: f64) {
        let old = self.0.get(&m).copied().unwrap_or(0.0);
        let sum = old + c;
        // Cancelling terms leave rounding dust, not a real coefficient.
        if sum == 0.0 || sum.abs() <= 1e-12 * old.abs().max(c.abs()) {
            self.0.remove(&m);
        } else {
            self.0.insert(m, sum);
        }
    }

    fn add(mut self, other: Poly) -> Poly {
        for (m, c) in other.0 {
            self.push(m, c);
        }
        self
    }

    fn scale(self, k: f64) -> Poly {
        let mut out = Poly::default();
        for (m, c) in self.0 {
            out.push(m, c * k);
        }
        out
    }

    fn mul(&self, other: &Poly) -> Poly {
        let mut out = Poly::default();
        for (m1, c1) in &self.0 {
            for (m2, c2) in &other.0 {
                let mut m = m1.clone();
                for (atom, power) in m2 {
                    let p = m.get(atom).copied().unwrap_or(0) + power;
                    if p == 0 {
                        m.remove(atom);
                    } else {
                        m.insert(atom.clone(), p);
                    }
                }
                out.push(m, c1 * c2);
            }
        }
        out
    }

    fn div(&self, other: &Poly) -> Poly {
        let inverse = match other.0.iter().next() {
            Some((m, c)) if other.0.len() == 1 => {
                let m = m.iter().map(|(a, p)| (a.clone(), -p)).collect();
                let mut p = Poly::default();
                p.push(m, 1.0 / c);
                p
            }
            _ => {
                let mut p = Poly::default();
                p.push(Monomial::from([(format!("({})", other.text()), -1)]), 1.0);
                p
            }
        };
        self.mul(&inverse)
    }

    /// `100 * sqls / mqls + …`: terms in monomial order, factors by name, coefficients at 12
    /// significant digits, so the text is both canonical and readable.
    fn text(&self) -> String {
        if self.0.is_empty() {
            return "0".to_owned();
        }
        let mut out = String::new();
        for (i, (m, c)) in self.0.iter().enumerate() {
            let c = coefficient(*c).parse::<f64>().unwrap_or(*c);
            let (sign, c) = if c < 0.0 { ("-", -c) } else { ("+", c) };
            let power = |atom: &str, p: i32| match p.abs() {
                1 => atom.to_owned(),
                n => format!("{atom}^{n}"),
            };
            let num: Vec<String> = m
                .iter()
                .filter(|(_, p)| **p > 0)
                .map(|(a, p)| power(a, *p))
                .collect();
            let den: Vec<String> = m
                .iter()
                .filter(|(_, p)| **p < 0)
                .map(|(a, p)| power(a, *p))
                .collect();
            let mut term = match (c == 1.0, num.is_empty()) {
                (true, false) => num.join(" * "),
                (_, true) => format!("{c}"),
                (false, false) => format!("{c} * {}", num.join(" * ")),
            };
            for d in den {
                term.push_str(" / ");
                term.push_str(&d);
            }
            match (i, sign) {
                (0, "-") => out.push('-'),
                (0, _) => {}
                (_, sign) => out.push_str(&format!(" {sign} ")),
            }
            out.push_str(&term);
        }
        out
    }
}

/// How deep KPI references are expanded (custom KPIs may refer to each other in cycles).
const MAX_EXPANSION: usize = 16;

/// The normal form of `expr` as text. `expand` gives the formula of a KPI key that is itself a
/// formula (a derived built-in, a custom KPI), so references are compared by what they compute;
/// base measures and unknown keys stay atoms.
pub fn normal_form(expr: &Expr, expand: &dyn Fn(&str) -> Option<Expr>) -> String {
    poly(expr, expand, 0).text()
}

fn poly(expr: &Expr, expand: &dyn Fn(&str) -> Option<Expr>, depth: usize) -> Poly {
    let rec = |e: &Expr| poly(e, expand, depth);
    match expr {
        Expr::Num(x) => Poly::num(*x),
        Expr::Kpi(k) => match expand(k) {
            Some(formula) if depth < MAX_EXPANSION => poly(&formula, expand, depth + 1),
            _ => Poly::atom(k.clone()),
        },
        Expr::Previous(k) => Poly::atom(format!("previous({k})")),
        Expr::Events { kind, sum } => Poly::atom(format!(
            "{}({kind:?})",
            if *sum { "sum_events" } else { "count_events" }
        )),
        Expr::Add(a, b) => rec(a).add(rec(b)),
        Expr::Sub(a, b) => rec(a).add(rec(b).scale(-1.0)),
        Expr::Mul(a, b) => rec(a).mul(&rec(b)),
        Expr::Div(a, b) => rec(a).div(&rec(b)),
        Expr::Neg(a) => rec(a).scale(-1.0),
        Expr::Call(name, args) => {
            let args: Vec<String> = args.iter().map(|a| rec(a).text()).collect();
            Poly::atom(format!("{name}({})", args.join(", ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<Expr> {
        None
    }

    fn k(key: &str) -> Expr {
        Expr::kpi(key)
    }

    #[test]
    fn order_parentheses_and_constants_do_not_change_the_normal_form() {
        let a = k("sqls") / k("mqls") * Expr::Num(100.0);
        let b = Expr::Num(100.0) * k("sqls") / k("mqls");
        let c = k("sqls") * (Expr::Num(50.0) + Expr::Num(50.0)) / k("mqls");
        assert_eq!(normal_form(&a, &none), normal_form(&b, &none));
        assert_eq!(normal_form(&a, &none), normal_form(&c, &none));
        assert_ne!(
            normal_form(&a, &none),
            normal_form(&(k("mqls") / k("sqls") * Expr::Num(100.0)), &none)
        );
    }

    #[test]
    fn a_scale_written_as_a_division_equals_the_multiplication() {
        let a = k("a") * k("b") / Expr::Num(100.0);
        let b = k("a") * k("b") * Expr::Num(0.01);
        assert_eq!(normal_form(&a, &none), normal_form(&b, &none));
    }

    #[test]
    fn references_compare_by_what_they_compute() {
        let expand = |key: &str| (key == "cac").then(|| k("total_spend") / k("customers_won"));
        assert_eq!(
            normal_form(&k("cac"), &expand),
            normal_form(&(k("total_spend") / k("customers_won")), &none)
        );
    }

    #[test]
    fn sums_in_a_denominator_stay_whole_and_sums_elsewhere_distribute() {
        let closing = k("won") / (k("won") + k("lost"));
        let other = k("won") / (k("lost") + k("won"));
        assert_eq!(normal_form(&closing, &none), normal_form(&other, &none));
        let a = (k("x") + k("y")) / k("z");
        let b = k("y") / k("z") + k("x") / k("z");
        assert_eq!(normal_form(&a, &none), normal_form(&b, &none));
        assert_ne!(
            normal_form(&(k("x") - k("x")), &none),
            normal_form(&k("x"), &none)
        );
        assert_eq!(normal_form(&(k("x") - k("x")), &none), "0");
    }

    #[test]
    fn the_normal_form_reads_like_a_formula() {
        let roi = (k("won") + k("recurring") - k("spend")) / k("spend") * Expr::Num(100.0);
        assert_eq!(
            normal_form(&roi, &none),
            "-100 + 100 * recurring / spend + 100 * won / spend"
        );
        let cpm = k("ad_spend") / (k("impressions") / Expr::Num(1000.0));
        assert_eq!(normal_form(&cpm, &none), "1000 * ad_spend / impressions");
        let closing = k("won") / (k("won") + k("lost"));
        assert_eq!(normal_form(&closing, &none), "won / (lost + won)");
    }

    #[test]
    fn cyclic_references_stop_expanding() {
        let expand = |key: &str| match key {
            "a" => Some(k("b") + Expr::Num(1.0)),
            "b" => Some(k("a") - Expr::Num(1.0)),
            _ => None,
        };
        assert!(!normal_form(&k("a"), &expand).is_empty());
    }

    #[test]
    fn evaluation_is_null_on_a_zero_denominator() {
        let e = k("a") / k("b");
        let lookup = |key: &str, _: bool| Some(if key == "a" { 3.0 } else { 0.0 });
        assert_eq!(e.eval(&lookup), None);
        let lookup = |key: &str, _: bool| Some(if key == "a" { 3.0 } else { 2.0 });
        assert_eq!(e.eval(&lookup), Some(1.5));
    }
}
