//! COCO's variable and objective transformations (`transform_vars_*.c`,
//! `transform_obj_*.c`).

pub(crate) fn shift(x: &[f64], offset: &[f64]) -> Vec<f64> {
    x.iter().zip(offset).map(|(a, b)| a - b).collect()
}

/// T_osz.
pub(crate) fn t_osz(v: f64) -> f64 {
    const ALPHA: f64 = 0.1;
    if v > 0.0 {
        let tmp = v.ln() / ALPHA;
        let base = (tmp + 0.49 * (tmp.sin() + (0.79 * tmp).sin())).exp();
        base.powf(ALPHA)
    } else if v < 0.0 {
        let tmp = (-v).ln() / ALPHA;
        let base = (tmp + 0.49 * ((0.55 * tmp).sin() + (0.31 * tmp).sin())).exp();
        -base.powf(ALPHA)
    } else {
        0.0
    }
}

pub(crate) fn oscillate(x: &[f64]) -> Vec<f64> {
    x.iter().map(|&v| t_osz(v)).collect()
}

/// T_asy^β.
pub(crate) fn asymmetric(x: &[f64], beta: f64) -> Vec<f64> {
    let n = x.len() as f64;
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            if v > 0.0 {
                let exponent = 1.0 + (beta * i as f64) / (n - 1.0) * v.sqrt();
                v.powf(exponent)
            } else {
                v
            }
        })
        .collect()
}

/// Λ^α: `alpha^(0.5 i/(d−1)) x_i`.
pub(crate) fn conditioning(x: &[f64], alpha: f64) -> Vec<f64> {
    let n = x.len() as f64;
    x.iter()
        .enumerate()
        .map(|(i, &v)| alpha.powf(0.5 * i as f64 / (n - 1.0)) * v)
        .collect()
}

/// The Büche–Rastrigin `s_i` scaling.
pub(crate) fn brs(x: &[f64]) -> Vec<f64> {
    let n = x.len() as f64;
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let mut factor = 10f64.sqrt().powf(i as f64 / (n - 1.0));
            if v > 0.0 && i % 2 == 0 {
                factor *= 10.0;
            }
            factor * v
        })
        .collect()
}

pub(crate) fn scale(x: &[f64], factor: f64) -> Vec<f64> {
    x.iter().map(|&v| factor * v).collect()
}

/// f_pen over the box [-5, 5]: `Σ max(0, |x_i| − 5)²`, as `transform_obj_penalize` sums it.
pub(crate) fn penalty(x: &[f64]) -> f64 {
    let mut p = 0.0;
    for &v in x {
        let c1 = v - 5.0;
        let c2 = -5.0 - v;
        if c1 > 0.0 {
            p += c1 * c1;
        } else if c2 > 0.0 {
            p += c2 * c2;
        }
    }
    p
}

/// The boundary penalty of the monolithic functions (step ellipsoid, Gallagher, Lunacek).
pub(crate) fn penalty_abs(x: &[f64], bound: f64) -> f64 {
    let mut p = 0.0;
    for &v in x {
        let tmp = v.abs() - bound;
        if tmp > 0.0 {
            p += tmp * tmp;
        }
    }
    p
}
