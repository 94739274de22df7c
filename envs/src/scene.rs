//! What a live view draws: an environment's state as shapes in world coordinates (each
//! environment's `view` in its [`crate::registry::EnvSpec`] makes one from an observation).

/// A picture of one environment state in world coordinates (y up), for live views.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    /// The visible world rectangle: `[x_min, x_max, y_min, y_max]`.
    pub bounds: [f32; 4],
    /// What to draw, in order.
    pub shapes: Vec<Shape>,
}

/// One shape of a [`Scene`]; colours are RGB.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A segment `width` pixels wide.
    Line {
        /// Start point.
        from: [f32; 2],
        /// End point.
        to: [f32; 2],
        /// Width in pixels.
        width: f32,
        /// Colour.
        color: [u8; 3],
    },
    /// An axis-aligned filled rectangle.
    Rect {
        /// Centre.
        center: [f32; 2],
        /// Width and height (world units).
        size: [f32; 2],
        /// Colour.
        color: [u8; 3],
    },
    /// A filled circle.
    Circle {
        /// Centre.
        center: [f32; 2],
        /// Radius in pixels.
        radius: f32,
        /// Colour.
        color: [u8; 3],
    },
}
