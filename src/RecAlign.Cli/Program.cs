Console.WriteLine("recalign");
