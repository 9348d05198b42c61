return await RecAlign.Cli.CliApp.RunAsync(args);
