using System.Diagnostics;
using System.Globalization;
using RecAlign.Models.Language;
using RecAlign.Training.Optimization;
using TorchSharp;
using static TorchSharp.torch;
using AdamW = RecAlign.Training.Optimization.AdamW;

namespace RecAlign.Bench;

/// <summary>
/// The C# LM on exactly the loop of <c>bench/python/llama_vs_sasrec_ablation.py</c> (S-DPO's LastFM windows, target-only
/// cross-entropy, Adam 1e-3, batch 256, dropout 0.5, nano size), bypassing the pipeline and the Trainer, so a difference
/// in learning speed between the two can be placed in the model or in the pipeline. A research diagnostic.
/// Usage: <c>lm-recipe [--trainer [--no-eos] [--bucket N]] [--epochs N] [--extra N] [--mult M] [--dropout P]
/// [--attn-dropout P] [--seed S] [--data DIR]</c>: <c>--trainer</c> trains through the pipeline's Trainer and
/// NextTokenObjective (response: target then EOS unless <c>--no-eos</c>; <c>--bucket</c>: bucket_factor) instead of the plain loop.
/// </summary>
public static class LmRecipeDiagnostic
{
    private const int N = 4606, L = 10;

    public static int Run(string[] args)
    {
        int epochs = 5, extra = 7756;
        double mult = 1.0, dropout = 0.5, attnDropout = 0.0;
        long seed = 0;
        bool trainer = false, eos = true;
        int bucket = 50;
        string data = Path.Combine("..", "shared", "data", "lastfm", "ref-sdpo");
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--epochs": epochs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--extra": extra = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--mult": mult = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--attn-dropout": attnDropout = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--seed": seed = long.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--dropout": dropout = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--trainer": trainer = true; break;
                case "--no-eos": eos = false; break;
                case "--bucket": bucket = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--data": data = args[++i]; break;
                default: Console.Error.WriteLine($"lm-recipe: unknown argument '{args[i]}'"); return 2;
            }
        }
        torch.set_num_threads(1);
        var (trIds, trLens, trY) = Load(Path.Combine(data, "train_data.csv"));
        var (vaIds, vaLens, vaY) = Load(Path.Combine(data, "Val_data.csv"));
        torch.manual_seed(seed);
        var config = LanguageModelConfig.Nano(N + 3 + extra) with { HiddenDropout = dropout, AttentionDropout = attnDropout, EmbeddingMultiplier = mult, ModelType = mult != 1.0 ? "granite" : "llama" };
        var lm = LanguageModel.Create(config, seed);
        var named = lm.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        using var optimizer = new AdamW(ParameterGroups.Default(named, 0.0), 1e-3);
        long n = trY.shape[0];
        var bos = full(new long[] { n, 1 }, N + 1, ScalarType.Int64);
        var trIn = cat([bos, trIds], 1);
        var vaIn = cat([full(new long[] { vaY.shape[0], 1 }, N + 1, ScalarType.Int64), vaIds], 1);
        var sw = Stopwatch.StartNew();
        var results = new List<double>();
        var gen = new Generator((ulong)seed);
        double Evaluate()
        {
            lm.eval();
            double ndcg;
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                var keep = vaLens > 0;
                var vi = vaIn[keep]; var vl = vaLens[keep]; var vy = vaY[keep];
                var h = lm.Hidden(vi);
                var sc = lm.Logits(h[arange(vi.shape[0]), vl]).slice(1, 0, N, 1).clone();
                var hist = zeros(sc.shape, ScalarType.Bool);
                var items = vi.slice(1, 1, L + 1, 1); // history items (PAD = N beyond each length)
                var valid = items < N;
                var rows = arange(vi.shape[0]).unsqueeze(1).expand_as(items);
                hist.index_put_(tensor(true), rows[valid], items[valid]);
                var notTarget = arange(N).unsqueeze(0) != vy.unsqueeze(1);
                sc = sc.masked_fill(hist & notTarget, -1e9);
                var targetScore = sc.gather(1, vy.unsqueeze(1));
                var rank = (sc > targetScore).sum(1).to(ScalarType.Float64);
                ndcg = where(rank < 10, 1.0 / (rank + 2).log2(), zeros_like(rank)).mean().item<double>();
            }
            return ndcg;
        }
        if (trainer)
        {
            var examples = new List<RecAlign.Text.TokenizedExample>();
            var ids2 = trIds.data<long>().ToArray(); var lens2 = trLens.data<long>().ToArray(); var y2 = trY.data<long>().ToArray();
            for (int r = 0; r < y2.Length; r++)
            {
                var prompt = new List<int> { N + 1 };
                for (int c = 0; c < lens2[r]; c++) prompt.Add((int)ids2[r * L + c]);
                examples.Add(new RecAlign.Text.TokenizedExample(prompt.ToArray(), eos ? [(int)y2[r], N + 2] : [(int)y2[r]]));
            }
            var objective = new RecAlign.Training.NextTokenObjective(lm, examples, N, 512, trainOnPrompt: false);
            var cfg = new RecAlign.Training.TrainingConfig
            {
                Seed = seed, Epochs = epochs, BatchSize = 256, Precision = RecAlign.Training.Precision.Fp32, BucketFactor = bucket,
                EvalEvery = (y2.Length + 255) / 256, LogEvery = 1000,
                Optimizer = new OptimizerConfig { LearningRate = 1e-3, WeightDecay = 0, Schedule = LrScheduleKind.Constant, WarmupRatio = 0, MaxGradNorm = 0 },
            };
            var t = new RecAlign.Training.Trainer(lm, objective, cfg)
            {
                Evaluate = _ => { double v = Evaluate(); lm.train(); Console.WriteLine($"eval {v:F3} ({sw.Elapsed.TotalSeconds:F0}s)"); results.Add(Math.Round(v, 3)); return new Dictionary<string, double> { ["ndcg"] = v }; },
            };
            t.Train();
            Console.WriteLine($"trainer eos {eos} bucket {bucket}: [{string.Join(", ", results.Select(r => r.ToString("F3", CultureInfo.InvariantCulture)))}]");
            return 0;
        }
        for (int ep = 0; ep < epochs; ep++)
        {
            lm.train();
            var perm = randperm(n, generator: gen);
            double lossSum = 0; int batches = 0;
            for (long i = 0; i < n; i += 256)
            {
                using var scope = NewDisposeScope();
                var j = perm.slice(0, i, Math.Min(n, i + 256), 1);
                var ids = trIn.index_select(0, j);
                var last = trLens.index_select(0, j); // position of the last real token (BOS at 0)
                var h = lm.Hidden(ids);
                var hl = h[arange(j.shape[0]), last];
                var logits = lm.Logits(hl);
                var loss = nn.functional.cross_entropy(logits, trY.index_select(0, j));
                optimizer.ZeroGrad();
                loss.backward();
                optimizer.Step();
                lossSum += loss.item<float>(); batches++;
            }
            double ndcg = Evaluate();
            results.Add(Math.Round(ndcg, 3));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"epoch {ep + 1}: train loss {lossSum / batches:F3}, val NDCG@10 {ndcg:F3} ({sw.Elapsed.TotalSeconds:F0}s)"));
        }
        Console.WriteLine($"seed {seed} extra {extra} mult {mult} dropout {dropout} attention dropout {attnDropout}: [{string.Join(", ", results.Select(r => r.ToString("F3", CultureInfo.InvariantCulture)))}]");
        return 0;
    }

    private static (Tensor Ids, Tensor Lens, Tensor Y) Load(string file)
    {
        var lines = File.ReadAllLines(file).Skip(1).ToList();
        var ids = new long[lines.Count * L];
        var lens = new long[lines.Count];
        var y = new long[lines.Count];
        for (int r = 0; r < lines.Count; r++)
        {
            var cols = lines[r].Split(',');
            var seq = cols[0].Split(' ').Select(long.Parse).Where(t => t != N).ToList();
            seq = seq.Skip(Math.Max(0, seq.Count - L)).ToList();
            for (int c = 0; c < L; c++) ids[r * L + c] = c < seq.Count ? seq[c] : N;
            lens[r] = seq.Count;
            y[r] = long.Parse(cols[2], CultureInfo.InvariantCulture);
        }
        return (tensor(ids).reshape(lines.Count, L), tensor(lens), tensor(y));
    }
}
