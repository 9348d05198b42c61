using RecAlign.Bench;

// Usage: dotnet run -c Release --project bench/RecAlign.Bench -- <benchmark> [--quick] [--out FILE.json]
if (args.Length == 0 || !BenchCatalog.All.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"usage: RecAlign.Bench <{string.Join('|', BenchCatalog.All.Keys)}> [--quick] [--out FILE.json]");
    return 2;
}
return run(args[1..]);
