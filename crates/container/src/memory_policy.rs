//! `linux.memoryPolicy` (runtime spec 1.3): the NUMA memory policy of the container's process
//! and of every process exec'd into it, set with set_mempolicy(2) just before exec; it is
//! inherited across exec and fork. The config's shape is checked by husk-spec's validate.

use oci_spec::runtime::{LinuxMemoryPolicy, MemoryPolicyFlagType, MemoryPolicyModeType};

use crate::error::{StepContext, SysError};

fn mode(m: MemoryPolicyModeType) -> i32 {
    use MemoryPolicyModeType as M;
    match m {
        M::MpolDefault => 0,
        M::MpolPreferred => 1,
        M::MpolBind => 2,
        M::MpolInterleave => 3,
        M::MpolLocal => 4,
        M::MpolPreferredMany => 5,
        M::MpolWeightedInterleave => 6,
    }
}

fn flag(f: MemoryPolicyFlagType) -> i32 {
    use MemoryPolicyFlagType as F;
    match f {
        F::MpolFNumaBalancing => 1 << 13,
        F::MpolFRelativeNodes => 1 << 14,
        F::MpolFStaticNodes => 1 << 15,
    }
}

/// The node mask of "0-3,7" as 64-bit words (validated: every node below
/// husk_spec::validate::MAX_NUMA_NODES).
pub fn node_mask(nodes: &str) -> Vec<u64> {
    let mut words = Vec::new();
    for n in husk_spec::validate::numa_nodes(nodes).unwrap_or_default() {
        let (word, bit) = (n as usize / 64, n % 64);
        if words.len() <= word {
            words.resize(word + 1, 0);
        }
        words[word] |= 1 << bit;
    }
    words
}

/// set_mempolicy(2) for this process.
pub fn apply(p: &LinuxMemoryPolicy) -> Result<(), SysError> {
    let flags = p.flags().iter().flatten().fold(0, |f, x| f | flag(*x));
    let mask = node_mask(p.nodes().as_deref().unwrap_or_default());
    crate::sys::set_mempolicy(mode(p.mode()) | flags, &mask)
        .step(|| format!("linux.memoryPolicy: set_mempolicy({})", p.mode()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn node_lists_become_bit_masks() {
        assert_eq!(super::node_mask("0"), vec![1]);
        assert_eq!(super::node_mask("0-2,5"), vec![0b100111]);
        assert_eq!(super::node_mask("64"), vec![0, 1]);
        assert_eq!(super::node_mask(""), Vec::<u64>::new());
    }
}
