//! Distances on the Earth's surface and the bounding box that lets a search use the plain
//! latitude/longitude index before the exact distance is computed.

const EARTH_RADIUS_KM: f64 = 6371.0088;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub latitude: f64,
    pub longitude: f64,
}

/// Great-circle distance in kilometres (haversine).
pub fn distance_km(a: Point, b: Point) -> f64 {
    let (lat1, lat2) = (a.latitude.to_radians(), b.latitude.to_radians());
    let d_lat = lat2 - lat1;
    let d_lon = (b.longitude - a.longitude).to_radians();
    let h = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// A latitude/longitude rectangle that contains every point within `radius_km` of `center`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub min_latitude: f64,
    pub max_latitude: f64,
    pub min_longitude: f64,
    pub max_longitude: f64,
}

pub fn bounding_box(center: Point, radius_km: f64) -> BoundingBox {
    let d_lat = (radius_km / EARTH_RADIUS_KM).to_degrees();
    let min_latitude = (center.latitude - d_lat).max(-90.0);
    let max_latitude = (center.latitude + d_lat).min(90.0);
    // Near a pole (or across the antimeridian) the box widens to every longitude: still
    // correct, only less selective.
    let cos = center.latitude.to_radians().cos();
    let d_lon = if cos > 1e-6 {
        (radius_km / (EARTH_RADIUS_KM * cos)).to_degrees()
    } else {
        360.0
    };
    let (min_longitude, max_longitude) =
        if center.longitude - d_lon < -180.0 || center.longitude + d_lon > 180.0 {
            (-180.0, 180.0)
        } else {
            (center.longitude - d_lon, center.longitude + d_lon)
        };
    BoundingBox {
        min_latitude,
        max_latitude,
        min_longitude,
        max_longitude,
    }
}

/// A link that opens the place on a map in any browser.
pub fn map_link(point: Point) -> String {
    format!(
        "https://www.openstreetmap.org/?mlat={:.5}&mlon={:.5}#map=17/{:.5}/{:.5}",
        point.latitude, point.longitude, point.latitude, point.longitude
    )
}

/// "350 m" below one kilometre, "2.4 km" above.
pub fn describe_distance(km: f64) -> String {
    if km < 1.0 {
        format!("{} m", ((km * 1000.0) / 10.0).round() as i64 * 10)
    } else {
        format!("{km:.1} km")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BERLIN: Point = Point {
        latitude: 52.5200,
        longitude: 13.4050,
    };
    const POTSDAM: Point = Point {
        latitude: 52.3906,
        longitude: 13.0645,
    };

    #[test]
    fn distances_match_known_values() {
        let d = distance_km(BERLIN, POTSDAM);
        assert!((d - 26.9).abs() < 0.5, "{d}");
        assert!(distance_km(BERLIN, BERLIN).abs() < 1e-9);
    }

    #[test]
    fn the_box_holds_every_point_of_the_circle() {
        let radius = 5.0;
        let b = bounding_box(BERLIN, radius);
        for step in 0..360 {
            let bearing = f64::from(step).to_radians();
            // A point just inside the circle in every direction.
            let d = (radius * 0.999) / EARTH_RADIUS_KM;
            let lat1 = BERLIN.latitude.to_radians();
            let lat2 = (lat1.sin() * d.cos() + lat1.cos() * d.sin() * bearing.cos()).asin();
            let lon2 = BERLIN.longitude.to_radians()
                + (bearing.sin() * d.sin() * lat1.cos()).atan2(d.cos() - lat1.sin() * lat2.sin());
            let p = Point {
                latitude: lat2.to_degrees(),
                longitude: lon2.to_degrees(),
            };
            assert!(distance_km(BERLIN, p) < radius);
            assert!(
                (b.min_latitude..=b.max_latitude).contains(&p.latitude)
                    && (b.min_longitude..=b.max_longitude).contains(&p.longitude),
                "{p:?} outside {b:?}"
            );
        }
        assert!(
            b.max_latitude - b.min_latitude < 0.1,
            "the box stays small: {b:?}"
        );
    }

    #[test]
    fn boxes_near_the_antimeridian_and_poles_widen_instead_of_wrapping() {
        let fiji = Point {
            latitude: -17.7,
            longitude: 179.99,
        };
        let b = bounding_box(fiji, 10.0);
        assert_eq!((b.min_longitude, b.max_longitude), (-180.0, 180.0));
        let pole = Point {
            latitude: 90.0,
            longitude: 0.0,
        };
        assert_eq!(bounding_box(pole, 10.0).max_latitude, 90.0);
    }

    #[test]
    fn distances_read_naturally() {
        assert_eq!(describe_distance(0.347), "350 m");
        assert_eq!(describe_distance(2.44), "2.4 km");
    }
}
