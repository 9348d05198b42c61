using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecAlign.Training.Optimization;

/// <summary>
/// AdamW (Loshchilov &amp; Hutter, decoupled weight decay, bias-corrected) over <see cref="ParameterGroup"/>s.
/// fp32/fp64 parameters are updated in place; lower-precision ones (bf16/fp16) get an fp32 master copy: the step runs
/// on the master and the rounded result is copied back. State tensors (m, v, master) are fp32 (fp64 for fp64 params).
/// Per parameter the step is ~8 native calls: cached Scalars, <c>lerp_</c> for m, and bias correction folded into
/// the step size and eps: m̂/(√v̂+ε) = m·√bc2/bc1 / (√v + ε·√bc2), one fewer pass than PyTorch's form.
/// If bf16 parameters are overwritten from outside (e.g. a checkpoint loaded after construction), call
/// <see cref="SyncMasterFromParameters"/>.
/// </summary>
public sealed class AdamW : IDisposable
{
    private sealed class Slot(string name, Parameter parameter, ParameterGroup group, Tensor expAvg, Tensor expAvgSq, Tensor? master)
    {
        public readonly string Name = name;
        public readonly Parameter Parameter = parameter;
        public readonly ParameterGroup Group = group;
        public readonly Tensor ExpAvg = expAvg;
        public readonly Tensor ExpAvgSq = expAvgSq;
        public readonly Tensor? Master = master;
        public long Step;
        public Tensor Target => Master ?? Parameter;
    }

    private readonly List<Slot> _slots = [];
    private readonly Scalar _beta2;
    private readonly Scalar _oneMinusBeta2;
    private readonly Dictionary<ScalarType, Tensor> _oneMinusBeta1; // lerp_ takes its weight as a tensor
    private bool _disposed;

    public IReadOnlyList<ParameterGroup> Groups { get; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    /// <summary>Number of <see cref="Step"/> calls so far.</summary>
    public long StepCount { get; private set; }
    /// <summary>True when at least one parameter is stepped through an fp32 master copy.</summary>
    public bool UsesMasterWeights => _slots.Any(s => s.Master is not null);

    /// <summary>Builds the optimizer; every group's lr is set to <paramref name="lr"/>·LrScale.</summary>
    public AdamW(IEnumerable<ParameterGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
    {
        if (!(lr >= 0) || !double.IsFinite(lr)) throw new ArgumentOutOfRangeException(nameof(lr), lr, "learning rate must be finite and >= 0");
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in [0, 1)");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in [0, 1)");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be >= 0");
        Groups = groups.ToArray();
        (Beta1, Beta2, Eps) = (beta1, beta2, eps);
        _beta2 = beta2.ToScalar();
        _oneMinusBeta2 = (1 - beta2).ToScalar();
        _oneMinusBeta1 = new()
        {
            [ScalarType.Float32] = torch.tensor(1 - beta1, ScalarType.Float32).DetachFromDisposeScope(),
            [ScalarType.Float64] = torch.tensor(1 - beta1, ScalarType.Float64).DetachFromDisposeScope(),
        };
        var names = new HashSet<string>();
        using var noGrad = torch.no_grad();
        foreach (var g in Groups)
        {
            g.LearningRate = lr * g.LrScale;
            foreach (var (name, p) in g.Parameters)
            {
                if (!names.Add(name)) throw new ArgumentException($"parameter '{name}' appears twice in the optimizer's groups", nameof(groups));
                if (!p.is_floating_point()) throw new ArgumentException($"parameter '{name}' has non-float dtype {p.dtype}", nameof(groups));
                var stateType = p.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
                Tensor? master = p.dtype is ScalarType.Float32 or ScalarType.Float64
                    ? null
                    : p.detach().to(ScalarType.Float32, copy: true).DetachFromDisposeScope();
                var m = torch.zeros(p.shape, stateType, p.device).DetachFromDisposeScope();
                var v = torch.zeros(p.shape, stateType, p.device).DetachFromDisposeScope();
                _slots.Add(new Slot(name, p, g, m, v, master));
            }
        }
    }

    /// <summary>AdamW over <see cref="ParameterGroups.Default"/> groups with the config's hyperparameters.</summary>
    public static AdamW FromConfig(IEnumerable<(string name, Parameter parameter)> namedParameters, OptimizerConfig config)
    {
        config.Validate();
        return new AdamW(ParameterGroups.Default(namedParameters, config.WeightDecay), config.LearningRate, config.Beta1, config.Beta2, config.Eps);
    }

    /// <summary>Sets every group's lr to <paramref name="lr"/>·LrScale.</summary>
    public void SetLearningRate(double lr)
    {
        foreach (var g in Groups) g.LearningRate = lr * g.LrScale;
    }

    /// <summary>One update of every parameter that has a gradient (parameters without one keep their state and step count).</summary>
    public void Step()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var noGrad = torch.no_grad();
        StepCount++;
        // Step-size and eps Scalars depend on (per-parameter step, lr): almost always one pair per group.
        var coefficients = new Dictionary<(long, double), (Scalar NegStepSize, Scalar ScaledEps)>();
        var decays = new Dictionary<double, Scalar>();
        try
        {
            foreach (var s in _slots)
            {
                using var grad = s.Parameter.grad;
                if (grad is null) continue;
                s.Step++;
                double lr = s.Group.LearningRate, wd = s.Group.WeightDecay;
                if (!coefficients.TryGetValue((s.Step, lr), out var c))
                {
                    double bc1 = 1 - Math.Pow(Beta1, s.Step), bc2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, s.Step));
                    c = ((-lr * bc2Sqrt / bc1).ToScalar(), (Eps * bc2Sqrt).ToScalar());
                    coefficients[(s.Step, lr)] = c;
                }
                var target = s.Target;
                Tensor? converted = grad.dtype == s.ExpAvg.dtype ? null : grad.to(s.ExpAvg.dtype);
                try
                {
                    var g = converted ?? grad;
                    if (lr * wd != 0)
                    {
                        double f = 1 - lr * wd;
                        if (!decays.TryGetValue(f, out var decay)) decays[f] = decay = f.ToScalar();
                        target.mul_(decay);
                    }
                    s.ExpAvg.lerp_(g, _oneMinusBeta1[s.ExpAvg.dtype]);
                    s.ExpAvgSq.mul_(_beta2).addcmul_(g, g, _oneMinusBeta2);
                    using (var denom = s.ExpAvgSq.sqrt())
                    {
                        denom.add_(c.ScaledEps);
                        target.addcdiv_(s.ExpAvg, denom, c.NegStepSize);
                    }
                    if (s.Master is not null) s.Parameter.copy_(s.Master);
                }
                finally
                {
                    converted?.Dispose();
                }
            }
        }
        finally
        {
            foreach (var (a, b) in coefficients.Values) { a.Dispose(); b.Dispose(); }
            foreach (var d in decays.Values) d.Dispose();
        }
    }

    /// <summary>Drops (default) or zeroes every parameter's gradient.</summary>
    public void ZeroGrad(bool setToNone = true) => Gradients.ZeroGrad(_slots.Select(s => s.Parameter), setToNone);

    /// <summary>Re-copies the master weights from the (low-precision) parameters, e.g. after loading model weights.</summary>
    public void SyncMasterFromParameters()
    {
        using var noGrad = torch.no_grad();
        foreach (var s in _slots) s.Master?.copy_(s.Parameter);
    }

    /// <summary>
    /// Copies of the state: <c>step</c> (int64), and per parameter <c>state.NAME.exp_avg</c>, <c>.exp_avg_sq</c>,
    /// <c>.step</c> (int64) and, for master-weight parameters, <c>.master</c>. The caller owns the returned tensors.
    /// </summary>
    public Dictionary<string, Tensor> StateDict()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var d = new Dictionary<string, Tensor> { ["step"] = torch.tensor(StepCount) };
        foreach (var s in _slots)
        {
            d[$"state.{s.Name}.exp_avg"] = s.ExpAvg.clone();
            d[$"state.{s.Name}.exp_avg_sq"] = s.ExpAvgSq.clone();
            d[$"state.{s.Name}.step"] = torch.tensor(s.Step);
            if (s.Master is not null) d[$"state.{s.Name}.master"] = s.Master.clone();
        }
        return d;
    }

    /// <summary>
    /// Restores a <see cref="StateDict"/> exactly (dtype and shape must match). A restored master is copied into its
    /// parameter. With <paramref name="strict"/>, unknown keys throw; without, a missing master is rebuilt from the
    /// parameter instead of throwing.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var used = new HashSet<string>();
        Tensor Get(string key)
        {
            if (!state.TryGetValue(key, out var t)) throw new KeyNotFoundException($"optimizer state: missing key '{key}'");
            used.Add(key);
            return t;
        }
        static long ReadLong(string key, Tensor t)
        {
            if (t.numel() != 1 || t.dtype != ScalarType.Int64) throw new ArgumentException($"optimizer state: '{key}' must be a single int64, got {t.dtype} {string.Join('x', t.shape)}");
            return t.item<long>();
        }
        static void CopyExact(string key, Tensor into, Tensor from)
        {
            if (from.dtype != into.dtype) throw new ArgumentException($"optimizer state: '{key}' has dtype {from.dtype}, expected {into.dtype}");
            if (!from.shape.SequenceEqual(into.shape)) throw new ArgumentException($"optimizer state: '{key}' has shape [{string.Join(',', from.shape)}], expected [{string.Join(',', into.shape)}]");
            into.copy_(from);
        }

        // Validate everything before mutating anything, so a bad file leaves the optimizer untouched.
        long step = ReadLong("step", Get("step"));
        var plan = new List<(Slot Slot, long Step, Tensor M, Tensor V, Tensor? Master)>();
        foreach (var s in _slots)
        {
            string p = $"state.{s.Name}.";
            long st = ReadLong(p + "step", Get(p + "step"));
            var m = Get(p + "exp_avg");
            var v = Get(p + "exp_avg_sq");
            Tensor? master = null;
            if (s.Master is not null)
            {
                if (state.ContainsKey(p + "master") || strict) master = Get(p + "master");
            }
            foreach (var (key, into, from) in new[] { (p + "exp_avg", s.ExpAvg, m), (p + "exp_avg_sq", s.ExpAvgSq, v) }.Concat(master is null ? [] : [(p + "master", s.Master!, master)]))
            {
                if (from.dtype != into.dtype) throw new ArgumentException($"optimizer state: '{key}' has dtype {from.dtype}, expected {into.dtype}");
                if (!from.shape.SequenceEqual(into.shape)) throw new ArgumentException($"optimizer state: '{key}' has shape [{string.Join(',', from.shape)}], expected [{string.Join(',', into.shape)}]");
            }
            plan.Add((s, st, m, v, master));
        }
        if (strict)
        {
            var unknown = state.Keys.Where(k => !used.Contains(k)).ToList();
            if (unknown.Count > 0) throw new ArgumentException($"optimizer state: unknown keys {string.Join(", ", unknown.Take(5))}{(unknown.Count > 5 ? ", ..." : "")}");
        }

        using var noGrad = torch.no_grad();
        StepCount = step;
        foreach (var (s, st, m, v, master) in plan)
        {
            s.Step = st;
            CopyExact($"state.{s.Name}.exp_avg", s.ExpAvg, m);
            CopyExact($"state.{s.Name}.exp_avg_sq", s.ExpAvgSq, v);
            if (s.Master is not null)
            {
                if (master is not null) s.Master.copy_(master);
                else s.Master.copy_(s.Parameter);
                s.Parameter.copy_(s.Master);
            }
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var s in _slots)
        {
            s.ExpAvg.Dispose();
            s.ExpAvgSq.Dispose();
            s.Master?.Dispose();
        }
        foreach (var t in _oneMinusBeta1.Values) t.Dispose();
        _beta2.Dispose();
        _oneMinusBeta2.Dispose();
    }
}
