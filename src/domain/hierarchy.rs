//! The group hierarchy: which groups are members of which. It stays acyclic, and a
//! change of it is known by what it does to each group's set of descendants, from
//! which the store brings its closure and effective memberships up to date.

use std::collections::{BTreeMap, BTreeSet};

use super::GroupId;

/// A tenant's groups as members of groups: the direct edges, both ways.
#[derive(Debug, Clone, Default)]
pub struct Hierarchy {
    members: BTreeMap<GroupId, BTreeSet<GroupId>>,
    parents: BTreeMap<GroupId, BTreeSet<GroupId>>,
}

/// A change that would make a group a member of itself, directly or through others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// The group a member was being added to.
    pub group: GroupId,
    /// The group being added: `group` itself, or one that `group` already lies within.
    pub member: GroupId,
}

impl std::fmt::Display for Cycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group == self.member {
            write!(f, "group {} cannot be a member of itself", self.group)
        } else {
            write!(
                f,
                "group {} cannot be a member of group {}: {} is already a member of {}, \
                 directly or through other groups, and groups may not form a cycle",
                self.member, self.group, self.group, self.member
            )
        }
    }
}

/// What a change of the hierarchy does to one group's descendants (the groups
/// within it, at any depth).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    pub group: GroupId,
    pub gained: Vec<GroupId>,
    pub lost: Vec<GroupId>,
}

/// A change of the hierarchy, checked: the edges it adds and removes (each really
/// changing) and what it does to every group whose descendants change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HierarchyChange {
    pub added: Vec<(GroupId, GroupId)>,
    pub removed: Vec<(GroupId, GroupId)>,
    pub reach: Vec<Reach>,
}

impl HierarchyChange {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

impl Hierarchy {
    /// The hierarchy of these (group, member group) edges.
    pub fn new(edges: impl IntoIterator<Item = (GroupId, GroupId)>) -> Self {
        let mut hierarchy = Self::default();
        for (group, member) in edges {
            hierarchy.link(group, member);
        }
        hierarchy
    }

    fn link(&mut self, group: GroupId, member: GroupId) -> bool {
        self.parents.entry(member).or_default().insert(group);
        self.members.entry(group).or_default().insert(member)
    }

    fn unlink(&mut self, group: GroupId, member: GroupId) -> bool {
        if let Some(parents) = self.parents.get_mut(&member) {
            parents.remove(&group);
        }
        self.members
            .get_mut(&group)
            .is_some_and(|members| members.remove(&member))
    }

    /// The group's direct member groups.
    pub fn members_of(&self, group: GroupId) -> impl Iterator<Item = GroupId> + '_ {
        self.members.get(&group).into_iter().flatten().copied()
    }

    /// The groups `group` is a direct member of.
    pub fn parents_of(&self, group: GroupId) -> impl Iterator<Item = GroupId> + '_ {
        self.parents.get(&group).into_iter().flatten().copied()
    }

    /// `group` and every group within it, at any depth.
    pub fn descendants(&self, group: GroupId) -> BTreeSet<GroupId> {
        walk(group, |g| self.members.get(&g))
    }

    /// `group` and every group it lies within, at any depth.
    pub fn ancestors(&self, group: GroupId) -> BTreeSet<GroupId> {
        walk(group, |g| self.parents.get(&g))
    }

    /// Checks a change (the edges `remove`d first, then those `add`ed) and answers
    /// what it does; a change that would close a cycle is refused, naming the first
    /// edge that would. Edges already present (or absent) change nothing.
    pub fn change(
        &self,
        add: &[(GroupId, GroupId)],
        remove: &[(GroupId, GroupId)],
    ) -> Result<HierarchyChange, Cycle> {
        let mut next = self.clone();
        let removed: Vec<_> = (remove.iter())
            .filter(|(group, member)| next.unlink(*group, *member))
            .copied()
            .collect();
        let mut added = Vec::new();
        for &(group, member) in add {
            if group == member || next.descendants(member).contains(&group) {
                return Err(Cycle { group, member });
            }
            if next.link(group, member) {
                added.push((group, member));
            }
        }
        // Only the groups above a changed edge, before or after, reach differently.
        let mut above = BTreeSet::new();
        for (group, _) in added.iter().chain(&removed) {
            above.extend(self.ancestors(*group));
            above.extend(next.ancestors(*group));
        }
        let reach = above
            .into_iter()
            .filter_map(|group| {
                let (before, after) = (self.descendants(group), next.descendants(group));
                let gained: Vec<_> = after.difference(&before).copied().collect();
                let lost: Vec<_> = before.difference(&after).copied().collect();
                (!gained.is_empty() || !lost.is_empty()).then_some(Reach {
                    group,
                    gained,
                    lost,
                })
            })
            .collect();
        Ok(HierarchyChange {
            added,
            removed,
            reach,
        })
    }
}

/// `start` and every group reached from it through `next`.
fn walk<'a>(
    start: GroupId,
    next: impl Fn(GroupId) -> Option<&'a BTreeSet<GroupId>>,
) -> BTreeSet<GroupId> {
    let mut seen = BTreeSet::from([start]);
    let mut queue = vec![start];
    while let Some(group) = queue.pop() {
        for &other in next(group).into_iter().flatten() {
            if seen.insert(other) {
                queue.push(other);
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups<const N: usize>() -> [GroupId; N] {
        let mut ids: Vec<GroupId> = (0..N).map(|_| GroupId::generate()).collect();
        ids.sort();
        ids.try_into().unwrap()
    }

    #[test]
    fn a_group_cannot_be_its_own_member() {
        let [a] = groups();
        let refused = Hierarchy::default().change(&[(a, a)], &[]).unwrap_err();
        assert_eq!(
            refused,
            Cycle {
                group: a,
                member: a
            }
        );
        assert!(refused.to_string().contains("member of itself"));
    }

    #[test]
    fn a_change_closing_a_cycle_through_others_is_refused() {
        let [a, b, c] = groups();
        // a ⊃ b ⊃ c: c may not take a in.
        let hierarchy = Hierarchy::new([(a, b), (b, c)]);
        let refused = hierarchy.change(&[(c, a)], &[]).unwrap_err();
        assert_eq!(
            refused,
            Cycle {
                group: c,
                member: a
            }
        );
        // Two edges of one change that close a cycle together are refused as well.
        let refused = Hierarchy::default()
            .change(&[(a, b), (b, a)], &[])
            .unwrap_err();
        assert_eq!(
            refused,
            Cycle {
                group: b,
                member: a
            }
        );
        // Removing b ⊃ c first lets c take a in.
        assert!(hierarchy.change(&[(c, a)], &[(b, c)]).is_ok());
    }

    #[test]
    fn adding_a_subgroup_extends_every_group_above_it() {
        let [a, b, c, d] = groups();
        let hierarchy = Hierarchy::new([(a, b), (c, d)]);
        let change = hierarchy.change(&[(b, c)], &[]).unwrap();
        assert_eq!(change.added, [(b, c)]);
        let reach: BTreeMap<GroupId, (Vec<GroupId>, Vec<GroupId>)> = change
            .reach
            .into_iter()
            .map(|r| (r.group, (r.gained, r.lost)))
            .collect();
        assert_eq!(
            reach,
            BTreeMap::from([(a, (vec![c, d], vec![])), (b, (vec![c, d], vec![]))])
        );
    }

    #[test]
    fn removing_one_of_two_paths_loses_nothing() {
        let [a, b, c, d] = groups();
        // a ⊃ b ⊃ d and a ⊃ c ⊃ d: a keeps d through c when b lets d go.
        let hierarchy = Hierarchy::new([(a, b), (a, c), (b, d), (c, d)]);
        let change = hierarchy.change(&[], &[(b, d)]).unwrap();
        assert_eq!(change.removed, [(b, d)]);
        assert_eq!(
            change.reach,
            [Reach {
                group: b,
                gained: vec![],
                lost: vec![d]
            }]
        );
    }

    #[test]
    fn edges_already_there_or_absent_change_nothing() {
        let [a, b, c] = groups();
        let hierarchy = Hierarchy::new([(a, b)]);
        let change = hierarchy.change(&[(a, b)], &[(b, c)]).unwrap();
        assert!(change.is_empty());
        assert!(change.reach.is_empty());
        assert_eq!(hierarchy.members_of(a).collect::<Vec<_>>(), [b]);
        assert_eq!(hierarchy.parents_of(b).collect::<Vec<_>>(), [a]);
        assert_eq!(hierarchy.ancestors(b), BTreeSet::from([a, b]));
    }
}
