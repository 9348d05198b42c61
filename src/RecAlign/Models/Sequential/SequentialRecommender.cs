using RecAlign.Data;
using static TorchSharp.torch;

namespace RecAlign.Models.Sequential;

/// <summary>A trained <see cref="SequentialModel"/> behind the <see cref="IRecommender"/> contract: its catalog, and
/// batched scoring in eval mode without gradients.</summary>
public sealed class SequentialRecommender(SequentialModel model, ItemCatalog catalog, bool ownsModel = true)
    : ItemIdRecommender(model.Config.ModelType, CheckCatalog(model, catalog))
{
    public SequentialModel Model { get; } = model;

    private static ItemCatalog CheckCatalog(SequentialModel model, ItemCatalog catalog) =>
        catalog.Count == model.ItemCount ? catalog
        : throw new ArgumentException($"the catalog holds {catalog.Count} items but the model was built for n_items = {model.ItemCount}");

    protected override Tensor ScoreItems(IReadOnlyList<IReadOnlyList<int>> histories, Tensor candidates)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        bool wasTraining = Model.training;
        Model.eval();
        try
        {
            using var batch = SequenceBatch.Make(histories, Model.MaxHistory, Model.ItemCount, Model.Device);
            return Model.Predict(batch.Items, batch.Lengths, candidates.to(Model.Device)).cpu().MoveToOuterDisposeScope();
        }
        finally { if (wasTraining) Model.train(); }
    }

    public override Tensor ScoreCatalog(IReadOnlyList<IReadOnlyList<int>> histories)
    {
        using var noGrad = no_grad();
        bool wasTraining = Model.training;
        Model.eval();
        try
        {
            var result = empty(histories.Count, Model.ItemCount, ScalarType.Float32);
            for (int start = 0; start < histories.Count; start += BatchSize)
            {
                using var scope = NewDisposeScope();
                int n = Math.Min(BatchSize, histories.Count - start);
                using var batch = SequenceBatch.Make(histories.Skip(start).Take(n).ToList(), Model.MaxHistory, Model.ItemCount, Model.Device);
                result.narrow(0, start, n).copy_(Model.FullSortPredict(batch.Items, batch.Lengths).to_type(ScalarType.Float32).cpu());
            }
            return result;
        }
        finally { if (wasTraining) Model.train(); }
    }

    public override void Dispose()
    {
        if (ownsModel) Model.Dispose();
        base.Dispose();
    }
}
