//! Identifiers: offline ids as the Python client makes them (`"offline_" + str(uuid.uuid1())`).

use once_cell::sync::Lazy;
use std::hash::{BuildHasher, Hasher};

/// A random 48-bit node id with the multicast bit set, as RFC 4122 asks for a node that is not a
/// MAC address.
static NODE: Lazy<[u8; 6]> = Lazy::new(|| {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    let v = h.finish().to_le_bytes();
    [v[0] | 0x01, v[1], v[2], v[3], v[4], v[5]]
});

/// The RFC 4122 clock sequence, which keeps ids unique when two are made in the same 100 ns tick.
static CONTEXT: Lazy<uuid::ContextV1> = Lazy::new(|| uuid::ContextV1::new(random_u64() as u16));

/// A new offline id, `offline_<uuid1>`.
pub fn offline_id() -> String {
    let ts = uuid::Timestamp::now(&*CONTEXT);
    format!("offline_{}", uuid::Uuid::new_v1(ts, &NODE).hyphenated())
}

/// A small pseudo-random number generator (xorshift64*), seeded from the OS-seeded hasher; good
/// enough for run names, not for secrets.
pub fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    let mut x = h.finish() | 1;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

const ADJECTIVES: &[&str] = &[
    "able", "agile", "amber", "ancient", "arctic", "azure", "bold", "brave", "brisk", "bright",
    "calm", "clever", "cosmic", "crisp", "curious", "daring", "dense", "eager", "early",
    "electric", "elegant", "fast", "fierce", "fluid", "focal", "gentle", "golden", "grand",
    "green", "happy", "hidden", "humble", "icy", "jolly", "keen", "kinetic", "lively", "lucid",
    "lunar", "mellow", "mighty", "modal", "nimble", "noble", "orbital", "patient", "polar",
    "proud", "quick", "quiet", "radiant", "rapid", "robust", "serene", "sharp", "silent", "smooth",
    "solar", "stable", "steady", "swift", "tidal", "vast", "vivid", "warm", "wise", "young",
    "zonal",
];

const NOUNS: &[&str] = &[
    "anvil", "atom", "aurora", "basin", "beacon", "boson", "breeze", "canyon", "cascade", "comet",
    "crystal", "current", "delta", "dune", "eddy", "ember", "falcon", "field", "flux", "fjord",
    "galaxy", "glacier", "gradient", "harbor", "horizon", "island", "jet", "kernel", "lattice",
    "lens", "magnet", "manifold", "meadow", "meteor", "mesh", "nebula", "neutron", "nova", "ocean",
    "orbit", "photon", "plasma", "prism", "pulsar", "quasar", "reactor", "ridge", "river", "rotor",
    "solver", "spectrum", "spiral", "storm", "summit", "tensor", "thermal", "tide", "turbine",
    "valley", "vector", "vortex", "wave", "willow", "zenith",
];

/// A random `<adjective>-<noun>` run name, as the Python client gives unnamed offline runs.
pub fn random_name() -> String {
    let r = random_u64();
    let adj = ADJECTIVES[(r % ADJECTIVES.len() as u64) as usize];
    let noun = NOUNS[((r >> 32) % NOUNS.len() as u64) as usize];
    format!("{adj}-{noun}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_ids_look_like_pythons_and_are_unique() {
        let a = offline_id();
        let b = offline_id();
        assert_ne!(a, b);
        assert!(a.starts_with("offline_"));
        let u = uuid::Uuid::parse_str(&a["offline_".len()..]).unwrap();
        assert_eq!(u.get_version_num(), 1);
    }

    #[test]
    fn random_names_are_adjective_noun_and_valid_run_names() {
        for _ in 0..50 {
            let n = random_name();
            let (adj, noun) = n.split_once('-').unwrap();
            assert!(ADJECTIVES.contains(&adj) && NOUNS.contains(&noun), "{n}");
            crate::validate::name("run name", &n).unwrap();
        }
    }
}
