using System.CommandLine;
using RecAlign.Cli.Commands;

var root = new RootCommand("RecAlign: LLM-based generative recommendation with preference alignment");
foreach (var command in CommandCatalog.All())
    root.Subcommands.Add(command);
return await root.Parse(args).InvokeAsync();
