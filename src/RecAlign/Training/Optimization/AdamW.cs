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
/// With <c>flatten: true</c> each group is packed by <see cref="FlatParameters"/> (parameters and grads become views
/// of one buffer per group) and stepped in cache-sized chunks through views made once, so the native-call count
/// follows the group's size, not its number of tensors (many small tensors: several times faster), while each chunk's ~8
/// passes stay in cache. Then all parameters of a group step together (one without a gradient is stepped with a
/// zero gradient), and <see cref="ZeroGrad"/> always zeroes in place. State dict keys are identical in both modes.
/// </summary>
public sealed class AdamW : IDisposable
{
    /// <summary>One stepping unit: a single parameter, or a whole flattened group.</summary>
    private sealed class Unit(ParameterGroup group, Tensor expAvg, Tensor expAvgSq, Tensor? master, Parameter? parameter, FlatParameters? flat)
    {
        public readonly ParameterGroup Group = group;
        public readonly Tensor ExpAvg = expAvg;
        public readonly Tensor ExpAvgSq = expAvgSq;
        public readonly Tensor? Master = master;
        public readonly Parameter? Parameter = parameter;
        public readonly FlatParameters? Flat = flat;
        public long Step;
        public readonly long Numel = expAvg.numel();
        /// <summary>Flattened units: persistent views (target, grad, m, v, scratch, weights) over consecutive chunks.</summary>
        public readonly List<(Tensor Target, Tensor Grad, Tensor M, Tensor V, Tensor Scratch, Tensor? Weights)> Chunks = [];
        /// <summary>The tensor the model reads (the parameter, or the flat buffer the parameters view).</summary>
        public Tensor Weights => Flat?.Data ?? Parameter!;
        public Tensor Target => Master ?? Weights;
    }

    /// <summary>A named parameter: its unit and, in a flattened unit, its index there.</summary>
    private sealed record Entry(string Name, Parameter Parameter, Unit Unit, int FlatIndex);

    private readonly List<Unit> _units = [];
    private readonly List<Entry> _entries = [];
    private readonly Scalar _beta2;
    private readonly Scalar _oneMinusBeta2;
    private readonly Dictionary<ScalarType, Tensor> _oneMinusBeta1; // lerp_ takes its weight as a tensor
    // Large fp32 units reuse one scratch buffer for the fp32 grad copy and then the denominator: fresh multi-MB
    // temporaries come from mmap and page-fault on every step, which cost more than the arithmetic.
    private const long ScratchMinElements = 1 << 18;
    private readonly Tensor? _scratch;
    private readonly Tensor? _chunkScratch;
    private bool _disposed;

    public IReadOnlyList<ParameterGroup> Groups { get; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    public bool Flattened { get; }
    /// <summary>Flattened mode: check (and repair) every grad view before each step/clip. On by default; cheap.</summary>
    public bool VerifyFlatGrads { get; set; } = true;
    /// <summary>Number of <see cref="Step"/> calls so far.</summary>
    public long StepCount { get; private set; }
    /// <summary>True when at least one parameter is stepped through an fp32 master copy.</summary>
    public bool UsesMasterWeights => _units.Any(u => u.Master is not null);
    /// <summary>Names of all optimized parameters, in group order.</summary>
    public IEnumerable<string> ParameterNames => _entries.Select(e => e.Name);

    /// <summary>Builds the optimizer; every group's lr is set to <paramref name="lr"/>·LrScale.</summary>
    /// <param name="flatChunkElements">Flattened mode: elements per chunk (default 2^18: the chunk's m, v, master, grad
    /// and parameter slices fit in cache together).</param>
    public AdamW(IEnumerable<ParameterGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, bool flatten = false,
        long flatChunkElements = 1 << 18)
    {
        if (!(lr >= 0) || !double.IsFinite(lr)) throw new ArgumentOutOfRangeException(nameof(lr), lr, "learning rate must be finite and >= 0");
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in [0, 1)");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in [0, 1)");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be >= 0");
        if (flatChunkElements < 1) throw new ArgumentOutOfRangeException(nameof(flatChunkElements), flatChunkElements, "chunk size must be >= 1");
        Groups = groups.ToArray();
        (Beta1, Beta2, Eps, Flattened) = (beta1, beta2, eps, flatten);
        // Validate everything before allocating native state.
        var names = new HashSet<string>();
        var storages = new Dictionary<(IntPtr, string), string>();
        foreach (var g in Groups)
        {
            foreach (var (name, p) in g.Parameters)
            {
                if (!names.Add(name)) throw new ArgumentException($"parameter '{name}' appears twice in the optimizer's groups", nameof(groups));
                if (!p.is_floating_point()) throw new ArgumentException($"parameter '{name}' has non-float dtype {p.dtype}", nameof(groups));
                var key = (NativeTensor.DataPointer(p), string.Join(',', p.shape));
                if (p.numel() > 0 && !storages.TryAdd(key, name))
                    throw new ArgumentException($"parameters '{storages[key]}' and '{name}' are the same tensor (tied weights?): list it once", nameof(groups));
                if (flatten && !p.requires_grad)
                    throw new ArgumentException($"cannot flatten group '{g.Name}': '{name}' does not require grad (leave frozen parameters out)", nameof(groups));
                if (flatten && p.dtype != g.Parameters[0].Parameter.dtype)
                    throw new ArgumentException($"cannot flatten group '{g.Name}': '{name}' is {p.dtype} but '{g.Parameters[0].Name}' is {g.Parameters[0].Parameter.dtype}", nameof(groups));
            }
        }
        _beta2 = beta2.ToScalar();
        _oneMinusBeta2 = (1 - beta2).ToScalar();
        _oneMinusBeta1 = new()
        {
            [ScalarType.Float32] = torch.tensor(1 - beta1, ScalarType.Float32).DetachFromDisposeScope(),
            [ScalarType.Float64] = torch.tensor(1 - beta1, ScalarType.Float64).DetachFromDisposeScope(),
        };
        using var noGrad = torch.no_grad();
        foreach (var g in Groups)
        {
            g.LearningRate = lr * g.LrScale;
            if (g.Parameters.Count == 0) continue;
            if (flatten)
            {
                var flat = new FlatParameters(g.Parameters);
                var unit = NewUnit(g, flat.Data, null, flat);
                _units.Add(unit);
                for (int i = 0; i < g.Parameters.Count; i++) _entries.Add(new Entry(g.Parameters[i].Name, g.Parameters[i].Parameter, unit, i));
            }
            else
            {
                foreach (var (name, p) in g.Parameters)
                {
                    var unit = NewUnit(g, p, p, null);
                    _units.Add(unit);
                    _entries.Add(new Entry(name, p, unit, -1));
                }
            }
        }
        long scratch = _units.Where(UsesScratch).Select(u => u.Numel).DefaultIfEmpty(0).Max();
        if (scratch > 0) _scratch = torch.empty(scratch, ScalarType.Float32, _units[0].ExpAvg.device).DetachFromDisposeScope();
        if (flatten && _units.Count > 0)
        {
            long chunk = Math.Min(flatChunkElements, _units.Max(u => u.Numel));
            var stateType = _units.Any(u => u.ExpAvg.dtype == ScalarType.Float64) ? ScalarType.Float64 : ScalarType.Float32;
            _chunkScratch = torch.empty(chunk, stateType, _units[0].ExpAvg.device).DetachFromDisposeScope();
            foreach (var u in _units)
            {
                for (long start = 0; start < u.Numel; start += chunk)
                {
                    long n = Math.Min(chunk, u.Numel - start);
                    Tensor Slice(Tensor t) => t.narrow(0, start, n).DetachFromDisposeScope();
                    u.Chunks.Add((Slice(u.Target), Slice(u.Flat!.Grad), Slice(u.ExpAvg), Slice(u.ExpAvgSq),
                        _chunkScratch.narrow(0, 0, n).to(u.ExpAvg.dtype).DetachFromDisposeScope(), u.Master is null ? null : Slice(u.Weights)));
                }
            }
        }
    }

    private static bool UsesScratch(Unit u) => u.Flat is null && u.ExpAvg.dtype == ScalarType.Float32 && u.Numel >= ScratchMinElements;

    private static Unit NewUnit(ParameterGroup g, Tensor weights, Parameter? parameter, FlatParameters? flat)
    {
        var stateType = weights.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        Tensor? master = weights.dtype is ScalarType.Float32 or ScalarType.Float64
            ? null
            : weights.detach().to(ScalarType.Float32, copy: true).DetachFromDisposeScope();
        var m = torch.zeros(weights.shape, stateType, weights.device).DetachFromDisposeScope();
        var v = torch.zeros(weights.shape, stateType, weights.device).DetachFromDisposeScope();
        return new Unit(g, m, v, master, parameter, flat);
    }

    /// <summary>AdamW over <see cref="ParameterGroups.Default"/> groups with the config's hyperparameters.</summary>
    /// <param name="extraGroups">Groups beside the default decay / no-decay ones (e.g. an objective's own parameters).</param>
    /// <param name="lrScales">Parameter-name prefixes stepping at their own multiple of the lr (<see cref="ParameterGroups.Default"/>).</param>
    public static AdamW FromConfig(IEnumerable<(string name, Parameter parameter)> namedParameters, OptimizerConfig config, bool flatten = false,
        IEnumerable<ParameterGroup>? extraGroups = null, IReadOnlyDictionary<string, double>? lrScales = null)
    {
        config.Validate();
        var groups = ParameterGroups.Default(namedParameters, config.WeightDecay, lrScales).Concat(extraGroups ?? []);
        return new AdamW(groups, config.LearningRate, config.Beta1, config.Beta2, config.Eps, flatten || config.Flatten);
    }

    /// <summary>Sets every group's lr to <paramref name="lr"/>·LrScale.</summary>
    public void SetLearningRate(double lr)
    {
        foreach (var g in Groups) g.LearningRate = lr * g.LrScale;
    }

    /// <summary>
    /// One update of every parameter that has a gradient (per-parameter mode: parameters without one keep their state
    /// and step count; flattened mode: whole groups step).
    /// </summary>
    public void Step()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var noGrad = torch.no_grad();
        StepCount++;
        // Step-size and eps Scalars depend on (unit step, lr): almost always one pair per group.
        var coefficients = new Dictionary<(long, double), (Scalar NegStepSize, Scalar ScaledEps)>();
        var decays = new Dictionary<double, Scalar>();
        try
        {
            foreach (var u in _units)
            {
                if (u.Flat is not null && VerifyFlatGrads) u.Flat.EnsureGradsAttached();
                using var ownedGrad = u.Flat is null ? u.Parameter!.grad : null;
                var grad = u.Flat?.Grad ?? ownedGrad;
                if (grad is null) continue;
                u.Step++;
                double lr = u.Group.LearningRate, wd = u.Group.WeightDecay;
                if (!coefficients.TryGetValue((u.Step, lr), out var c))
                {
                    double bc1 = 1 - Math.Pow(Beta1, u.Step), bc2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, u.Step));
                    c = ((-lr * bc2Sqrt / bc1).ToScalar(), (Eps * bc2Sqrt).ToScalar());
                    coefficients[(u.Step, lr)] = c;
                }
                Scalar? decay = null;
                if (lr * wd != 0)
                {
                    double f = 1 - lr * wd;
                    if (!decays.TryGetValue(f, out decay)) decays[f] = decay = f.ToScalar();
                }
                if (u.Flat is not null)
                {
                    foreach (var ch in u.Chunks) Update(ch.Target, ch.Grad, ch.M, ch.V, ch.Scratch, ch.Weights, decay, c.NegStepSize, c.ScaledEps);
                }
                else
                {
                    using var buffer = UsesScratch(u) ? _scratch!.narrow(0, 0, u.Numel).view(u.ExpAvg.shape) : null;
                    Update(u.Target, grad, u.ExpAvg, u.ExpAvgSq, buffer, u.Master is null ? null : u.Parameter, decay, c.NegStepSize, c.ScaledEps);
                }
            }
        }
        finally
        {
            foreach (var (a, b) in coefficients.Values) { a.Dispose(); b.Dispose(); }
            foreach (var d in decays.Values) d.Dispose();
        }
    }

    /// <summary>
    /// The AdamW update of one tensor (or chunk): decay, m ← lerp(m, g, 1−β1), v ← β2·v + (1−β2)·g², then
    /// target −= step·m/(√v + ε'); <paramref name="scratch"/> (same shape, state dtype) holds the converted grad and
    /// then the denominator, else both are fresh tensors; <paramref name="copyBackTo"/> receives the master's rounding.
    /// </summary>
    private void Update(Tensor target, Tensor grad, Tensor m, Tensor v, Tensor? scratch, Tensor? copyBackTo, Scalar? decay, Scalar negStepSize, Scalar scaledEps)
    {
        using var converted = grad.dtype == m.dtype ? null : scratch is null ? grad.to(m.dtype) : scratch.alias().copy_(grad);
        var g = converted ?? grad;
        if (decay is not null) target.mul_(decay);
        m.lerp_(g, _oneMinusBeta1[m.dtype]);
        v.mul_(_beta2).addcmul_(g, g, _oneMinusBeta2);
        // g is dead from here on, so the scratch buffer can take the denominator.
        using (var denom = scratch is null ? v.sqrt() : scratch.alias().copy_(v).sqrt_())
        {
            denom.add_(scaledEps, Numerics.Scalars.One); // add_(Scalar) would make a fresh alpha the GC can free mid-call
            target.addcdiv_(m, denom, negStepSize);
        }
        copyBackTo?.copy_(target);
    }

    /// <summary>
    /// Clips all gradients to global norm <paramref name="maxNorm"/> and returns the pre-clip norm (fp32 0-dim, caller
    /// owns it); over the flat grad buffers when flattened.
    /// </summary>
    public Tensor ClipGradNorm(double maxNorm)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!Flattened) return Gradients.ClipGradNorm(_entries.Select(e => e.Parameter), maxNorm);
        foreach (var u in _units) if (VerifyFlatGrads) u.Flat!.EnsureGradsAttached();
        return Gradients.ClipGradNormOfGrads(_units.Select(u => u.Flat!.Grad).ToList(), maxNorm);
    }

    /// <summary>Drops (default) or zeroes every parameter's gradient; flattened groups always zero their buffer in place.</summary>
    public void ZeroGrad(bool setToNone = true)
    {
        foreach (var u in _units) u.Flat?.ZeroGrad();
        if (!Flattened) Gradients.ZeroGrad(_entries.Select(e => e.Parameter), setToNone);
    }

    /// <summary>Re-copies the master weights from the (low-precision) parameters, e.g. after loading model weights.</summary>
    public void SyncMasterFromParameters()
    {
        using var noGrad = torch.no_grad();
        foreach (var u in _units) u.Master?.copy_(u.Weights);
    }

    private static Tensor View(Entry e, Tensor unitTensor) => e.Unit.Flat is null ? unitTensor.alias() : e.Unit.Flat.ViewOf(unitTensor, e.FlatIndex);

    /// <summary>
    /// Copies of the state: <c>step</c> (int64), and per parameter <c>state.NAME.exp_avg</c>, <c>.exp_avg_sq</c>,
    /// <c>.step</c> (int64) and, for master-weight parameters, <c>.master</c>. The caller owns the returned tensors.
    /// </summary>
    public Dictionary<string, Tensor> StateDict()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var d = new Dictionary<string, Tensor> { ["step"] = torch.tensor(StepCount) };
        foreach (var e in _entries)
        {
            var u = e.Unit;
            using (var m = View(e, u.ExpAvg)) d[$"state.{e.Name}.exp_avg"] = m.clone();
            using (var v = View(e, u.ExpAvgSq)) d[$"state.{e.Name}.exp_avg_sq"] = v.clone();
            d[$"state.{e.Name}.step"] = torch.tensor(u.Step);
            if (u.Master is not null)
            {
                using var w = View(e, u.Master);
                d[$"state.{e.Name}.master"] = w.clone();
            }
        }
        return d;
    }

    /// <summary>
    /// Restores a <see cref="StateDict"/> exactly (dtype and shape must match). A restored master is copied into its
    /// parameter. With <paramref name="strict"/>, unknown keys throw; without, a missing master is rebuilt from the
    /// parameter instead of throwing. Validates everything before changing anything.
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
            if (t.numel() != 1 || t.dtype != ScalarType.Int64) throw new ArgumentException($"optimizer state: '{key}' must be a single int64, got {t.dtype} [{string.Join(',', t.shape)}]");
            return t.item<long>();
        }
        static void Check(string key, Tensor from, ScalarType dtype, long[] shape)
        {
            if (from.dtype != dtype) throw new ArgumentException($"optimizer state: '{key}' has dtype {from.dtype}, expected {dtype}");
            if (!from.shape.SequenceEqual(shape)) throw new ArgumentException($"optimizer state: '{key}' has shape [{string.Join(',', from.shape)}], expected [{string.Join(',', shape)}]");
        }

        long step = ReadLong("step", Get("step"));
        var unitSteps = new Dictionary<Unit, long>();
        var plan = new List<(Entry Entry, Tensor M, Tensor V, Tensor? Master)>();
        foreach (var e in _entries)
        {
            string p = $"state.{e.Name}.";
            long st = ReadLong(p + "step", Get(p + "step"));
            if (unitSteps.TryGetValue(e.Unit, out var other) && other != st)
                throw new ArgumentException($"optimizer state: '{p}step' is {st} but other parameters of flattened group '{e.Unit.Group.Name}' have {other}");
            unitSteps[e.Unit] = st;
            var shape = e.Parameter.shape;
            var stateType = e.Unit.ExpAvg.dtype;
            var m = Get(p + "exp_avg");
            var v = Get(p + "exp_avg_sq");
            Check(p + "exp_avg", m, stateType, shape);
            Check(p + "exp_avg_sq", v, stateType, shape);
            Tensor? master = null;
            if (e.Unit.Master is not null && (strict || state.ContainsKey(p + "master")))
            {
                master = Get(p + "master");
                Check(p + "master", master, ScalarType.Float32, shape);
            }
            plan.Add((e, m, v, master));
        }
        if (strict)
        {
            var unknown = state.Keys.Where(k => !used.Contains(k)).ToList();
            if (unknown.Count > 0) throw new ArgumentException($"optimizer state: unknown keys {string.Join(", ", unknown.Take(5))}{(unknown.Count > 5 ? ", ..." : "")}");
        }

        using var noGrad = torch.no_grad();
        StepCount = step;
        foreach (var (u, st) in unitSteps) u.Step = st;
        foreach (var (e, m, v, master) in plan)
        {
            using (var dst = View(e, e.Unit.ExpAvg)) dst.copy_(m);
            using (var dst = View(e, e.Unit.ExpAvgSq)) dst.copy_(v);
            if (e.Unit.Master is null) continue;
            using var dm = View(e, e.Unit.Master);
            if (master is not null) dm.copy_(master);
            else dm.copy_(e.Parameter);
            e.Parameter.copy_(dm);
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var u in _units)
        {
            u.ExpAvg.Dispose();
            u.ExpAvgSq.Dispose();
            u.Master?.Dispose();
            foreach (var ch in u.Chunks)
            {
                ch.Target.Dispose(); ch.Grad.Dispose(); ch.M.Dispose(); ch.V.Dispose(); ch.Scratch.Dispose(); ch.Weights?.Dispose();
            }
            u.Flat?.Dispose();
        }
        _chunkScratch?.Dispose();
        foreach (var t in _oneMinusBeta1.Values) t.Dispose();
        _scratch?.Dispose();
        _beta2.Dispose();
        _oneMinusBeta2.Dispose();
    }
}
