//! Mutations: byte flips, random bytes, truncations and splices for any input; field values
//! chosen to break bounds (0, all ones, ±1, +8, 0xFFFFFFF0, a random value) for the fields
//! `structure` finds; edits of lines, nesting and lengths for TOML text.

use super::{rng::Rng, structure::Field};

/// One generic mutation of `data`, in place.
pub fn bytes(rng: &mut Rng, data: &mut Vec<u8>) {
    if data.is_empty() {
        data.push(rng.next() as u8);
        return;
    }
    match rng.below(5) {
        0 => {
            let at = rng.below(data.len());
            data[at] ^= 1 << rng.below(8);
        }
        1 => {
            for _ in 0..=rng.below(8) {
                let at = rng.below(data.len());
                data[at] = rng.next() as u8;
            }
        }
        2 => {
            let at = rng.below(data.len());
            data.truncate(at);
        }
        3 => {
            let at = rng.below(data.len());
            data[at] = 0;
        }
        _ => {
            // Copy a run of the input over another place in it.
            let (from, to) = (rng.below(data.len()), rng.below(data.len()));
            let len = rng.below(64).min(data.len() - from).min(data.len() - to);
            let run: Vec<u8> = data[from..from + len].to_vec();
            data[to..to + len].copy_from_slice(&run);
        }
    }
}

/// Sets one of `fields` to a value likely to break a bound.
pub fn field(rng: &mut Rng, data: &mut [u8], fields: &[Field]) -> bool {
    let Some(&Field { at, width }) = rng.pick(fields) else { return false };
    let Some(slot) = data.get_mut(at..at + width) else { return false };
    let mut old = [0u8; 8];
    old[..width].copy_from_slice(slot);
    let old = u64::from_le_bytes(old);
    let value = match rng.below(8) {
        0 => 0,
        1 => u64::MAX,
        2 => old.wrapping_add(1),
        3 => old.wrapping_sub(1),
        4 => old.wrapping_add(8),
        5 => 0xFFFF_FFF0,
        6 => old.wrapping_mul(2).wrapping_add(0x1000),
        _ => rng.next(),
    };
    slot.copy_from_slice(&value.to_le_bytes()[..width]);
    true
}

/// One mutation of TOML text: bytes, a line doubled or dropped, deep nesting, huge values.
pub fn text(rng: &mut Rng, text: &str) -> Vec<u8> {
    if text.len() > 4 << 20 {
        // Grown past anything real by earlier rounds: only small edits from here.
        let mut bytes = text.as_bytes().to_vec();
        self::bytes(rng, &mut bytes);
        return bytes;
    }
    let lines: Vec<&str> = text.lines().collect();
    let at = rng.below(lines.len());
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    match rng.below(7) {
        0 if !out.is_empty() => {
            let line = out[at].clone();
            let copies = 1 + rng.below(1000).min((2 << 20) / (line.len() + 1));
            out.splice(at..at, std::iter::repeat_n(line, copies));
        }
        1 if !out.is_empty() => {
            out.remove(at);
        }
        2 => {
            let depth = 1 + rng.below(100_000);
            out.insert(at, format!("{} = 1", vec!["k"; depth].join(".")));
        }
        3 => {
            let depth = 1 + rng.below(100_000);
            out.insert(at, format!("x = {}{}", "[".repeat(depth), "]".repeat(depth)));
        }
        4 if !out.is_empty() => {
            // A value made very long, or a number made huge.
            let line = &out[at];
            out[at] = match line.find('"') {
                Some(q) => format!("{}{}{}", &line[..=q], "A".repeat(1 + rng.below(70_000)), &line[q + 1..]),
                None => format!("{line}999999999999999999999"),
            };
        }
        _ => {
            let mut bytes = out.join("\n").into_bytes();
            self::bytes(rng, &mut bytes);
            return bytes;
        }
    }
    out.join("\n").into_bytes()
}
