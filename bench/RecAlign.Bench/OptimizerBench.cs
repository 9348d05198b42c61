using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using RecAlign.Training.Optimization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using AdamW = RecAlign.Training.Optimization.AdamW;

namespace RecAlign.Bench;

/// <summary>
/// AdamW step time: RecAlign's AdamW (per-parameter and flattened) vs TorchSharp's torch.optim.AdamW on a Llama-like parameter set (~10.4M params in
/// 41 tensors: 5 layers of q/k/v/o 384², up/down 384×1536, two norms, plus a 4096×384 embedding), fp32 and bf16 (ours
/// with fp32 master weights; TorchSharp's is pure bf16, shown for reference only), and a many-small-tensors set
/// (400 × 2048) where per-call overhead dominates. Usage: <c>optimizer [--quick] [--steps N] [--chunk ELEMENTS] [--out FILE.json]</c>.
/// </summary>
public static class OptimizerBench
{
    private sealed record Case(string Name, string ParamSet, string Implementation, string Dtype, long Parameters, int Tensors,
        int Steps, double MeanMs, double MedianMs, double MinMs);

    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        int steps = quick ? 5 : 30;
        string? outPath = null;
        long chunk = 1 << 18;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--steps" && i + 1 < args.Length) steps = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--out" && i + 1 < args.Length) outPath = args[++i];
            else if (args[i] == "--chunk" && i + 1 < args.Length) chunk = long.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] != "--quick") { Console.Error.WriteLine($"optimizer bench: unknown argument '{args[i]}'"); return 2; }
        }

        var sets = new (string Name, long[][] Shapes)[] { ("llama-10M", LlamaShapes()), ("small-400x2048", Enumerable.Repeat(new long[] { 2048 }, 400).ToArray()) };
        var cases = new List<Case>();
        string[] implementations = ["ours", "ours-flat", "torchsharp"];
        foreach (var (setName, shapes) in sets)
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
                cases.AddRange(MeasureInterleaved(setName, shapes, dtype, implementations, steps, chunk));

        var md = new StringBuilder();
        md.AppendLine($"AdamW step time (torch threads {torch.get_num_threads()}, flat chunk {chunk} elements, {steps} timed rounds after 3 warmup, implementations interleaved per round; bf16 'ours' = fp32 master + fp32 m/v, 'torchsharp' = pure bf16 state)");
        md.AppendLine();
        md.AppendLine("| param set | dtype | implementation | params | tensors | mean ms | median ms | min ms | speedup (median) |");
        md.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (var c in cases)
        {
            var other = cases.First(o => o.ParamSet == c.ParamSet && o.Dtype == c.Dtype && o.Implementation == "torchsharp");
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {c.ParamSet} | {c.Dtype} | {c.Implementation} | {c.Parameters:N0} | {c.Tensors} | {c.MeanMs:F2} | {c.MedianMs:F2} | {c.MinMs:F2} | {other.MedianMs / c.MedianMs:F2}x |"));
        }
        Console.WriteLine(md.ToString());
        if (outPath is not null)
        {
            var json = JsonSerializer.Serialize(new { benchmark = "optimizer", threads = torch.get_num_threads(), steps, flat_chunk_elements = chunk, cases },
                new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
            WriteAtomic(outPath, json);
            WriteAtomic(Path.ChangeExtension(outPath, ".md"), md.ToString());
        }
        return 0;
    }

    private static long[][] LlamaShapes()
    {
        const long d = 384, f = 1536;
        var shapes = new List<long[]> { new[] { 4096L, d } };
        for (int l = 0; l < 5; l++)
            shapes.AddRange([[d, d], [d, d], [d, d], [d, d], [f, d], [d, f], [d], [d]]);
        return shapes.ToArray();
    }

    /// <summary>
    /// Times one step of each implementation in turn, round after round, so load from other processes hits all of
    /// them alike; each works on its own copy of the same parameters and gradients.
    /// </summary>
    private static IEnumerable<Case> MeasureInterleaved(string setName, long[][] shapes, ScalarType dtype, string[] implementations, int steps, long chunk)
    {
        var steppers = new List<(Action Step, Action Dispose)>();
        foreach (var implementation in implementations)
        {
            var gen = new Generator(42);
            var named = new List<(string, Parameter)>();
            for (int i = 0; i < shapes.Length; i++)
            {
                using var init = randn(shapes[i], generator: gen).mul_(0.02);
                var p = new Parameter(init.to(dtype).clone());
                using var g = randn(shapes[i], generator: gen).mul_(1e-3);
                p.grad = g.to(dtype);
                named.Add((shapes[i].Length == 1 ? $"p{i}.norm.weight" : $"p{i}.weight", p));
            }
            bool ours = implementation != "torchsharp";
            AdamW? mine = ours ? new AdamW(ParameterGroups.Default(named, 0.01), lr: 1e-4, flatten: implementation == "ours-flat", flatChunkElements: chunk) : null;
            var theirs = ours ? null : torch.optim.AdamW(named.Select(n => n.Item2), lr: 1e-4, weight_decay: 0.01);
            steppers.Add((() =>
            {
                using var scope = torch.NewDisposeScope();
                if (mine is not null) mine.Step();
                else theirs!.step();
            }, () =>
            {
                mine?.Dispose();
                theirs?.Dispose();
                foreach (var (_, p) in named) { p.grad = null; p.Dispose(); }
            }));
        }

        var times = implementations.Select(_ => new double[steps]).ToArray();
        for (int round = -3; round < steps; round++) // 3 warmup rounds
        {
            for (int k = 0; k < steppers.Count; k++)
            {
                long t0 = Stopwatch.GetTimestamp();
                steppers[k].Step();
                if (round >= 0) times[k][round] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            }
        }
        foreach (var s in steppers) s.Dispose();
        long count = shapes.Sum(s => s.Aggregate(1L, (a, b) => a * b));
        for (int k = 0; k < implementations.Length; k++)
        {
            var t = times[k];
            Array.Sort(t);
            yield return new Case($"{setName}/{dtype}/{implementations[k]}", setName, implementations[k],
                dtype == ScalarType.Float32 ? "fp32" : "bf16", count, shapes.Length, steps, t.Average(), t[steps / 2], t[0]);
        }
    }

    private static void WriteAtomic(string path, string text)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = full + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, full, overwrite: true);
    }
}
