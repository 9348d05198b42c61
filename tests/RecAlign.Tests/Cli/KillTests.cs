using System.Diagnostics;
using System.Text;
using RecAlign.Data.Storage;
using RecAlign.Models.Checkpoints;
using RecAlign.Models.Language;
using RecAlign.Runs;

namespace RecAlign.Tests.Cli;

/// <summary>
/// SIGKILL at random moments — in training, in <c>--resume</c>, in <c>data prepare</c> and in the registry update of
/// <c>runs list</c> — as a machine losing power would. After every kill: the inputs are unchanged, nothing appeared
/// outside the runs, models and datasets folders, every run folder and its registry row agree, every dataset folder
/// is absent or complete. At the end every unfinished run resumes to completion with the uninterrupted run's final
/// loss, bit for bit, and no half-written output is left. <c>RECALIGN_KILLS</c> sets the number of kills that must land
/// (10 here; <c>bench/kill-test.sh</c> runs 60).
/// </summary>
public sealed class KillTests
{
    private sealed record Counts
    {
        public int Kills, FinishedFirst, RunsStarted, Resumes, Prepares, RegistryCalls;
    }

    [Fact]
    public void KillsAtRandomMomentsLoseNothingAndEveryRunResumesToTheSameResult()
    {
        int kills = int.TryParse(Environment.GetEnvironmentVariable("RECALIGN_KILLS"), out var k) && k > 0 ? k : 10;
        int seed = int.TryParse(Environment.GetEnvironmentVariable("RECALIGN_KILL_SEED"), out var s) ? s : 20261202;
        var sandbox = Path.Combine(Path.GetTempPath(), "recalign-kill-" + Guid.NewGuid().ToString("N"));
        var root = Path.Combine(sandbox, "case");
        Directory.CreateDirectory(root);
        try { Run(root, kills, seed); }
        finally { try { Directory.Delete(sandbox, recursive: true); } catch (IOException) { } }
    }

    private static void Run(string root, int kills, int seed)
    {
        var rng = new Random(seed);
        string P(string name) => Path.Combine(root, name);
        var runs = P("runs");
        Directory.CreateDirectory(P("in"));
        var words = new[] { "alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta" };
        var text = new Random(1);
        File.WriteAllText(P("in/corpus.txt"), string.Join("\n", Enumerable.Range(0, 300).Select(_ => string.Join(" ", Enumerable.Range(0, 30).Select(_ => words[text.Next(words.Length)])))));
        Directory.CreateDirectory(P("in/ml"));
        File.WriteAllText(P("in/ml/ratings.dat"), string.Join("\n", Enumerable.Range(0, 20000).Select(i => $"{i % 400}::{(i * 7919) % 900}::{1 + i % 5}::{1000000 + i}")) + "\n");
        var inputs = Snapshot(P("in"));

        string[] Pretrain(string output, string? resume = null) =>
        [
            "pretrain", "--corpus", P("in/corpus.txt"), "--out", output, "--runs-dir", runs, "--threads", "1", "--seed", "7",
            "--set", "training.epochs=4", "--set", "training.save_every=2", "--set", "training.log_every=1",
            .. resume is null ? Array.Empty<string>() : ["--resume", resume],
        ];

        using var reference = Start(root, Pretrain(P("models/reference")));
        Assert.True(reference.WaitForExit(180_000), "the reference run did not finish");
        Assert.True(reference.ExitCode == 0, $"reference run failed: {reference.Error}");
        var referenceLoss = FinalLoss(runs, RunFolders(runs).Single());

        var outputOf = new Dictionary<string, string>(StringComparer.Ordinal); // run folder → its --out
        var counts = new Counts();
        // Until the asked number of kills has landed (a command that finishes before its moment is not a kill).
        for (int i = 0; counts.Kills < kills && i < 4 * kills; i++)
        {
            var before = RunFolders(runs).ToHashSet(StringComparer.Ordinal);
            var unfinished = Unfinished(runs);
            int action = rng.Next(100);
            string[] args;
            string? output = null;
            int delayMs;
            if (action < 25 && unfinished.Count > 0)
            {
                var run = unfinished[rng.Next(unfinished.Count)];
                args = Pretrain(outputOf.TryGetValue(run, out var o) ? o : P($"models/lost-{Path.GetFileName(run)}"), run);
                delayMs = rng.Next(50, 3000);
                counts.Resumes++;
            }
            else if (action < 65)
            {
                output = P($"models/m{i}");
                args = Pretrain(output);
                delayMs = rng.Next(100, 3500);
                counts.RunsStarted++;
            }
            else if (action < 85)
            {
                args = ["data", "prepare", "-f", "movielens", "-i", P("in/ml"), "-o", P($"datasets/d{i % 3}"), "--overwrite"];
                delayMs = rng.Next(0, 1200);
                counts.Prepares++;
            }
            else
            {
                args = ["runs", "list", "--runs-dir", runs];
                delayMs = rng.Next(0, 600);
                counts.RegistryCalls++;
            }

            using (var p = Start(root, args))
            {
                if (p.WaitForExit(delayMs)) counts.FinishedFirst++;
                else
                {
                    p.Kill(); // SIGKILL: no handler runs
                    p.WaitForExit();
                    counts.Kills++;
                }
            }
            foreach (var run in RunFolders(runs).Except(before))
                outputOf[run] = output ?? throw new InvalidOperationException($"a run folder appeared from '{string.Join(' ', args)}'");
            CheckInvariants(root, runs, inputs, $"after step {i} ({string.Join(' ', args.Take(2))}, {delayMs} ms)");
        }

        // Every run still unfinished resumes to the end, to the uninterrupted run's loss.
        foreach (var run in Unfinished(runs))
        {
            Assert.True(outputOf.TryGetValue(run, out var output), $"{run}: no --out known");
            using var p = Start(root, Pretrain(output!, run));
            Assert.True(p.WaitForExit(180_000), $"resume of {run} did not finish");
            Assert.True(p.ExitCode == 0, $"resume of {run} failed: {p.Error}");
        }
        // A killed data prepare is redone as a user would: the rerun clears what the killed one left half written.
        for (int d = 0; d < 3; d++)
        {
            using var p = Start(root, ["data", "prepare", "-f", "movielens", "-i", P("in/ml"), "-o", P($"datasets/d{d}"), "--overwrite"]);
            Assert.True(p.WaitForExit(180_000) && p.ExitCode == 0, $"data prepare d{d} failed: {p.Error}");
        }
        CheckInvariants(root, runs, inputs, "after the final resumes");
        var registry = new RunRegistry(RunRegistry.DefaultPath(runs));
        foreach (var run in RunFolders(runs))
        {
            Assert.Equal(RunStatus.Completed, registry.Get(Path.GetFileName(run)).Status);
            Assert.Equal(referenceLoss, FinalLoss(runs, run)); // bit-identical
            if (outputOf.TryGetValue(run, out var output)) RequireModel(output);
        }
        var leftovers = Directory.EnumerateFileSystemEntries(P("models")).Concat(Directory.Exists(P("datasets")) ? Directory.EnumerateFileSystemEntries(P("datasets")) : [])
            .Where(e => Path.GetFileName(e).Contains(".tmp-") || Path.GetFileName(e).Contains(".old-")).ToList();
        Assert.True(leftovers.Count == 0, $"half-written outputs left: {string.Join(", ", leftovers)}");
        Assert.True(counts.Kills >= kills, $"too few kills landed: {counts}");
        Console.WriteLine($"kill test: {counts}, {RunFolders(runs).Count} runs all completed with final loss {referenceLoss}");
    }

    /// <summary>What must hold after any kill, once the registry has been brought up to date by a <c>runs list</c>.</summary>
    private static void CheckInvariants(string root, string runs, Dictionary<string, string> inputs, string when)
    {
        using (var list = Start(root, ["runs", "list", "--runs-dir", runs]))
        {
            Assert.True(list.WaitForExit(60_000), $"{when}: runs list hung");
            Assert.True(list.ExitCode == 0, $"{when}: runs list failed: {list.Error}");
        }
        Assert.Equal(inputs, Snapshot(Path.Combine(root, "in")));
        var unexpected = Directory.EnumerateFileSystemEntries(root).Select(Path.GetFileName).Except(["in", "runs", "models", "datasets"]).ToList();
        Assert.True(unexpected.Count == 0, $"{when}: files appeared outside the outputs: {string.Join(", ", unexpected)}");
        var registry = new RunRegistry(RunRegistry.DefaultPath(runs));
        foreach (var run in RunFolders(runs))
        {
            var record = registry.TryGet(Path.GetFileName(run));
            Assert.True(record is not null, $"{when}: {run} is not in the registry");
            using var dir = RunDirectory.Open(run);
            Assert.NotNull(dir.ReadResolvedConfig()); // a run folder always has its config
            var summary = dir.ReadSummary();
            if (summary?.Status is RunStatus.Completed or RunStatus.Failed)
                Assert.True(summary.Status == record!.Status, $"{when}: {run} is {summary.Status} on disk but {record.Status} in the registry");
            else
                Assert.True(record!.Status is RunStatus.Interrupted or RunStatus.Created, $"{when}: unfinished {run} is {record.Status} in the registry");
            Assert.NotEqual(RunStatus.Failed, record.Status); // a kill never makes a run fail: it can always resume
        }
        foreach (var row in registry.List())
            Assert.True(Directory.Exists(row.Dir), $"{when}: registry row {row.Id} has no folder");
        if (Directory.Exists(Path.Combine(root, "datasets")))
            foreach (var d in Directory.GetDirectories(Path.Combine(root, "datasets")).Where(d => !Path.GetFileName(d).Contains(".tmp-") && !Path.GetFileName(d).Contains(".old-")))
                Assert.True(DatasetStore.Load(d, verify: true).Interactions.Length > 0, $"{when}: {d} is empty"); // verify: the content hash matches the manifest
    }

    private static void RequireModel(string dir)
    {
        LanguageModelConfig.FromHuggingFaceJson(Path.Combine(dir, "config.json"));
        using var ckpt = SafetensorsCheckpoint.Open(dir);
        Assert.NotEmpty(ckpt.TensorNames);
    }

    private static double FinalLoss(string runs, string run)
    {
        using var dir = RunDirectory.Open(run);
        var summary = dir.ReadSummary() ?? throw new InvalidOperationException($"{run}: no summary");
        return summary.FinalMetrics["final_loss"];
    }

    private static List<string> RunFolders(string runs) =>
        Directory.Exists(runs)
            ? Directory.GetDirectories(runs).Where(d => RunDirectory.TryParseId(Path.GetFileName(d), out _, out _)).Order(StringComparer.Ordinal).ToList()
            : [];

    private static List<string> Unfinished(string runs)
    {
        var result = new List<string>();
        foreach (var run in RunFolders(runs))
        {
            using var dir = RunDirectory.Open(run);
            if (dir.ReadSummary()?.Status is not (RunStatus.Completed or RunStatus.Failed)) result.Add(run);
        }
        return result;
    }

    private static Dictionary<string, string> Snapshot(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(dir, f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));

    /// <summary>A started command with both streams drained (a full pipe must never block it) and stderr kept.</summary>
    private sealed class Proc(Process process, StringBuilder error) : IDisposable
    {
        /// <summary>Whether it exited within <paramref name="ms"/>; if so, its redirected streams are drained too (the
        /// parameterless wait does that).</summary>
        public bool WaitForExit(int ms)
        {
            if (!process.WaitForExit(ms)) return false;
            process.WaitForExit();
            return true;
        }
        public void WaitForExit() => process.WaitForExit();
        public void Kill() => process.Kill();
        public int ExitCode => process.ExitCode;
        public string Error { get { lock (error) return error.ToString(); } }
        public void Dispose() => process.Dispose();
    }

    private static Proc Start(string workingDirectory, string[] args)
    {
        var p = CliRunner.Start(workingDirectory, args);
        var err = new StringBuilder();
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (err) err.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return new Proc(p, err);
    }
}
