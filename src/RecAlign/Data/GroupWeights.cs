namespace RecAlign.Data;

/// <summary>
/// IFairLRS's per-sample training weights (Jiang et al. 2024): over the training samples, H_g = memberships of group g
/// among history items, N_g = memberships among targets; the group weight is w_g = (H_g/ΣH) / (N_g/ΣN), the history
/// share over the target share, so a group the model is asked to predict more often than users consume it is
/// down-weighted. A sample's weight is w of its target's group (the mean over its groups when it has several, e.g.
/// genres); weights are then normalised to mean 1 over the samples, so the loss keeps its scale. A target with no group
/// weighs the mean (1 after normalisation). A group with targets but no history items weighs 0: its samples are not trained on.
/// </summary>
public static class GroupWeights
{
    /// <summary>w_g per group (0 for a group no target is in: no sample carries it).</summary>
    public static double[] PerGroup(IReadOnlyList<IReadOnlyList<int>> histories, IReadOnlyList<int> targets, ItemGroups groups)
    {
        if (histories.Count != targets.Count) throw new ArgumentException($"{histories.Count} histories for {targets.Count} targets");
        var history = new double[groups.GroupCount];
        var target = new double[groups.GroupCount];
        for (int s = 0; s < targets.Count; s++)
        {
            foreach (var i in histories[s])
                foreach (var g in Groups(groups, i)) history[g]++;
            foreach (var g in Groups(groups, targets[s])) target[g]++;
        }
        double h = history.Sum(), t = target.Sum();
        if (t == 0) throw new ArgumentException("no training target is in any item group: there is nothing to reweight");
        if (h == 0) throw new ArgumentException("no training history item is in any item group: the history shares are undefined");
        return Enumerable.Range(0, groups.GroupCount).Select(g => target[g] == 0 ? 0 : history[g] / h / (target[g] / t)).ToArray();
    }

    /// <summary>Each sample's weight (its target's group weight, the mean over several groups), normalised to mean 1.</summary>
    public static double[] PerSample(IReadOnlyList<IReadOnlyList<int>> histories, IReadOnlyList<int> targets, ItemGroups groups)
    {
        if (targets.Count == 0) return [];
        var wg = PerGroup(histories, targets, groups);
        var raw = new double[targets.Count];
        var ungrouped = new List<int>();
        for (int s = 0; s < targets.Count; s++)
        {
            var gs = Groups(groups, targets[s]);
            if (gs.Count == 0) { ungrouped.Add(s); continue; }
            raw[s] = gs.Average(g => wg[g]);
        }
        int grouped = targets.Count - ungrouped.Count;
        double meanGrouped = grouped == 0 ? 1 : raw.Sum() / grouped;
        foreach (var s in ungrouped) raw[s] = meanGrouped;
        double mean = raw.Average();
        if (!(mean > 0)) throw new ArgumentException("every sample's group weight is 0 (no history item is in any of the targets' groups): nothing would be trained");
        return raw.Select(w => w / mean).ToArray();
    }

    private static IReadOnlyList<int> Groups(ItemGroups groups, int item) =>
        (uint)item < (uint)groups.ItemCount ? groups.GroupsOf(item) : throw new ArgumentException($"item {item} is outside the grouped catalog [0, {groups.ItemCount})");
}
