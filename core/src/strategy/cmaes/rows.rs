//! Sample rows padded to register tiles, and the fused tile kernel over them.

/// Columns per register tile of [`tile4`]; sample rows are padded with zeros to a multiple.
pub(super) const TILE: usize = 16;

crate::multiversion! {
    /// `out[r][c] ← fma(m[rows[j] + c0 + c], coef[r][j], out[r][c])` for `j = 0, 1, …,
    /// coef[r].len() − 1` in order, `r < 4`, `c < TILE`: four rows of a product accumulated
    /// over a shared operand, in registers. Every entry adds its terms in order with fused
    /// multiply-adds (correctly rounded everywhere, so the same bits at every SIMD level and
    /// on every machine; the baseline build computes the fma in software, slowly). The four
    /// coefficient slices have one length.
    pub(super) fn tile4(out: &mut [[f64; TILE]; 4], m: &[f64], rows: &[usize], c0: usize, coef: [&[f64]; 4]) {
        let len = coef[0].len();
        let (k0, k1, k2, k3) = (&coef[0][..len], &coef[1][..len], &coef[2][..len], &coef[3][..len]);
        let rows = &rows[..len];
        let mut acc = *out;
        for j in 0..len {
            let row: &[f64; TILE] = m[rows[j] + c0..rows[j] + c0 + TILE]
                .try_into()
                .expect("a tile");
            let (a0, a1, a2, a3) = (k0[j], k1[j], k2[j], k3[j]);
            for c in 0..TILE {
                acc[0][c] = row[c].mul_add(a0, acc[0][c]);
                acc[1][c] = row[c].mul_add(a1, acc[1][c]);
                acc[2][c] = row[c].mul_add(a2, acc[2][c]);
                acc[3][c] = row[c].mul_add(a3, acc[3][c]);
            }
        }
        *out = acc;
    }
}

/// Vectors of length n in one buffer, each row padded with zeros to `stride` (a multiple of
/// [`TILE`]) for [`tile4`].
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Rows {
    pub(super) n: usize,
    pub(super) stride: usize,
    pub(super) data: Vec<f64>,
}

impl Rows {
    pub(super) fn zeros(count: usize, n: usize) -> Self {
        let stride = n.div_ceil(TILE) * TILE;
        Self {
            n,
            stride,
            data: vec![0.0; count * stride],
        }
    }
    pub(super) fn from_vecs(v: &[Vec<f64>], n: usize) -> Self {
        let mut rows = Self::zeros(v.len(), n);
        for (k, x) in v.iter().enumerate() {
            rows.data[k * rows.stride..k * rows.stride + n].copy_from_slice(x);
        }
        rows
    }
    pub(super) fn row(&self, k: usize) -> &[f64] {
        &self.data[k * self.stride..k * self.stride + self.n]
    }
    pub(super) fn len(&self) -> usize {
        self.data.len() / self.stride
    }
}
