using RecAlign.Randomness;
using System.Diagnostics;
using System.Text.Json.Nodes;
using RecAlign.Alignment;
using RecAlign.Models.Language;
using RecAlign.Training.Optimization;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Bench;

/// <summary>
/// One alignment step (policy forward over chosen + K rejected with a shared prompt, loss, backward, AdamW) with the
/// reference log-probs read from the precomputed cache, versus computing them live each step. Two settings:
/// full fine-tuning, where the live reference is a second, frozen model (what a trainer without the cache does), and
/// LoRA, where the live reference is the policy with its adapters disabled (the trainer's <c>reference: live</c>).
/// </summary>
internal static class AlignStepBench
{
    public static int Run(string[] args)
    {
        bool quick = BenchOutput.Flag(args, "--quick");
        int steps = quick ? 6 : 20, batch = 8, k = int.Parse(BenchOutput.Value(args, "--negatives") ?? "3");
        string size = BenchOutput.Value(args, "--size") ?? "tiny";
        var config = (size == "small10m" ? LanguageModelConfig.Small10M(2048) : LanguageModelConfig.Tiny(2048)) with { MaxPositionEmbeddings = 512 };
        var rng = new Pcg32(11);
        int[] Tokens(int n) => Enumerable.Range(0, n).Select(_ => 4 + rng.NextInt(config.VocabSize - 4)).ToArray();
        var data = Enumerable.Range(0, batch * (steps + 2)).Select(_ => new TokenizedPreference(
            [1, .. Tokens(200)], [.. Tokens(6), 2], Enumerable.Range(0, k).Select(_ => (int[])[.. Tokens(6), 2]).ToArray())).ToList();
        var loss = PreferenceLosses.Create(new PreferenceLossConfig { LossType = k == 1 ? "dpo" : "sdpo" });

        using var policy = LanguageModel.Create(config, 1);
        using var reference = LanguageModel.Create(config, 1);
        policy.to(ScalarType.BFloat16);
        reference.to(ScalarType.BFloat16);
        reference.eval();
        var cache = ReferenceLogProbs.Compute(reference, data, padId: 0);

        // Alternate cached and live twice and keep each one's best, so warm-up and machine noise hit both alike.
        double cached = double.MaxValue, live = double.MaxValue;
        for (int round = 0; round < 2; round++)
        {
            cached = Math.Min(cached, Time(policy, data, loss, batch, steps, cache, null, policy.named_parameters()));
            live = Math.Min(live, Time(policy, data, loss, batch, steps, cache, reference, policy.named_parameters()));
        }

        // LoRA (rank 8 on every projection): the live reference is the same network with adapters off.
        policy.AddLora(new LoraConfig { Rank = 8, Dropout = 0, TargetModules = LoraConfig.AllTargets }, 2);
        policy.to(ScalarType.BFloat16);
        double loraCached = double.MaxValue, loraLive = double.MaxValue;
        for (int round = 0; round < 2; round++)
        {
            loraCached = Math.Min(loraCached, Time(policy, data, loss, batch, steps, cache, null, policy.TrainableParameters()));
            loraLive = Math.Min(loraLive, Time(policy, data, loss, batch, steps, null, null, policy.TrainableParameters()));
        }
        var result = new JsonObject
        {
            ["benchmark"] = "align-step", ["machine"] = BenchOutput.Machine(), ["quick"] = quick,
            ["model"] = $"{size} d{config.HiddenSize} L{config.NumHiddenLayers} V{config.VocabSize} bf16", ["batch"] = batch, ["negatives"] = k,
            ["prompt_tokens"] = 201, ["response_tokens"] = 7,
            ["step_seconds_cached_reference"] = Math.Round(cached, 4), ["step_seconds_live_reference"] = Math.Round(live, 4),
            ["speedup"] = Math.Round(live / cached, 3),
            ["lora_step_seconds_cached_reference"] = Math.Round(loraCached, 4), ["lora_step_seconds_live_reference"] = Math.Round(loraLive, 4),
            ["lora_speedup"] = Math.Round(loraLive / loraCached, 3),
        };
        BenchOutput.Write(args, "align-step", result,
        [
            ("full: step with cached reference log-probs", $"{cached * 1000:F0} ms"),
            ("full: step with a live reference model", $"{live * 1000:F0} ms"),
            ("full: speedup", $"x{live / cached:F2}"),
            ("LoRA: step with cached reference log-probs", $"{loraCached * 1000:F0} ms"),
            ("LoRA: step with adapters disabled as the reference", $"{loraLive * 1000:F0} ms"),
            ("LoRA: speedup", $"x{loraLive / loraCached:F2}"),
        ]);
        return 0;
    }

    private static double Time(LanguageModel policy, List<TokenizedPreference> data, IPreferenceLoss loss, int batch, int steps,
        ReferenceLogProbs? cache, LanguageModel? liveReference, IEnumerable<(string name, TorchSharp.Modules.Parameter parameter)> trainable)
    {
        using var optimizer = AdamW.FromConfig(trainable, new OptimizerConfig { LearningRate = 1e-5 });
        var objective = new PreferenceObjective(policy, data, loss, 0, cache);
        var sw = new Stopwatch();
        for (int s = 0; s < steps + 2; s++)
        {
            if (s == 2) sw.Start();
            using var scope = NewDisposeScope();
            var indices = Enumerable.Range(s * batch, batch).ToArray();
            if (liveReference is not null)
            {
                // What the cache replaces: the reference model's forward over the same prompt + responses.
                using var _ = no_grad();
                ContinuationScorer.Score(liveReference, indices.Select(i => data[i].Prompt).ToList(),
                    indices.Select(i => (IReadOnlyList<int[]>)[data[i].Chosen, .. data[i].Rejected]).ToList(), 0).Dispose();
            }
            var output = objective.Compute(indices);
            output.Loss.backward();
            optimizer.Step();
            optimizer.ZeroGrad();
        }
        return sw.Elapsed.TotalSeconds / steps;
    }
}
