using static TorchSharp.torch;

namespace RecAlign.Models.Sequential;

/// <summary>
/// The Gaussian diffusion DreamRec (Yang et al., NeurIPS 2023) trains and samples with, x0-parameterised: the schedule
/// β_t (t = 0..T−1), α_t = 1 − β_t, ᾱ_t = Π_{s≤t} α_s (ᾱ_{−1} = 1), the forward process
/// x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε, the posterior q(x_{t−1} | x_t, x0) = N(c1_t·x0 + c2_t·x_t, σ²_t) with
/// c1_t = β_t·√ᾱ_{t−1}/(1−ᾱ_t), c2_t = (1−ᾱ_{t−1})·√α_t/(1−ᾱ_t), σ²_t = β_t·(1−ᾱ_{t−1})/(1−ᾱ_t), and the deterministic
/// DDIM update (η = 0) x_s = √ᾱ_s·x̂0 + √(1−ᾱ_s)·(x_t − √ᾱ_t·x̂0)/√(1−ᾱ_t) to an earlier step s (ᾱ_s = 1 past the start).
/// Coefficients are computed in double precision; tensors are float32.
/// </summary>
public sealed class GaussianDiffusion
{
    public GaussianDiffusion(string schedule, int timesteps, double betaStart = 1e-4, double betaEnd = 0.02)
    {
        Betas = Schedule(schedule, timesteps, betaStart, betaEnd);
        int n = Betas.Length;
        AlphasCumprod = new double[n];
        double product = 1;
        for (int t = 0; t < n; t++) AlphasCumprod[t] = product *= 1 - Betas[t];
        PosteriorMeanCoef1 = new double[n];
        PosteriorMeanCoef2 = new double[n];
        PosteriorVariance = new double[n];
        for (int t = 0; t < n; t++)
        {
            double prev = AlphaBarBefore(t), bar = AlphasCumprod[t];
            PosteriorMeanCoef1[t] = Betas[t] * Math.Sqrt(prev) / (1 - bar);
            PosteriorMeanCoef2[t] = (1 - prev) * Math.Sqrt(1 - Betas[t]) / (1 - bar);
            PosteriorVariance[t] = Betas[t] * (1 - prev) / (1 - bar);
        }
    }

    public int Timesteps => Betas.Length;
    public double[] Betas { get; }
    public double[] AlphasCumprod { get; }
    public double[] PosteriorMeanCoef1 { get; }
    public double[] PosteriorMeanCoef2 { get; }
    public double[] PosteriorVariance { get; }

    /// <summary>ᾱ_{t−1}, with ᾱ_{−1} = 1.</summary>
    public double AlphaBarBefore(int t) => t == 0 ? 1.0 : AlphasCumprod[t - 1];

    /// <summary>The released schedules (DreamRec.py): <c>linear</c> β = linspace(β_start, β_end, T); <c>cosine</c>
    /// ᾱ(u) = cos²((u/T + 0.008)/1.008·π/2)/ᾱ(0) and β_t = 1 − ᾱ(t+1)/ᾱ(t) clipped to [1e-4, 0.9999]; <c>exp</c>
    /// β_k = 1 − exp(−0.1/T − x_k·(10 − 0.1)/(2T²)) with x = linspace(1, 2T + 1, T) (β_start/β_end unused, as released).</summary>
    public static double[] Schedule(string name, int timesteps, double betaStart = 1e-4, double betaEnd = 0.02)
    {
        if (timesteps < 1) throw new ArgumentOutOfRangeException(nameof(timesteps), timesteps, "timesteps must be >= 1");
        int n = timesteps;
        static double Linspace(double a, double b, int count, int i) => count == 1 ? a : a + (b - a) * i / (count - 1);
        var betas = new double[n];
        switch (name)
        {
            case "linear":
                for (int i = 0; i < n; i++) betas[i] = Linspace(betaStart, betaEnd, n, i);
                break;
            case "cosine":
            {
                const double s = 0.008;
                double Bar(int i) => Math.Pow(Math.Cos((Linspace(0, n, n + 1, i) / n + s) / (1 + s) * Math.PI * 0.5), 2);
                double first = Bar(0);
                for (int i = 0; i < n; i++) betas[i] = Math.Clamp(1 - (Bar(i + 1) / first) / (Bar(i) / first), 1e-4, 0.9999);
                break;
            }
            case "exp":
            {
                const double betaMin = 0.1, betaMax = 10;
                for (int i = 0; i < n; i++)
                    betas[i] = 1 - Math.Exp(-betaMin / n - Linspace(1, 2.0 * n + 1, n, i) * 0.5 * (betaMax - betaMin) / ((double)n * n));
                break;
            }
            default: throw new ArgumentException($"unknown noise schedule '{name}' (known: linear, cosine, exp)", nameof(name));
        }
        return betas;
    }

    /// <summary>x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε for rows x0 [B, d], steps t int64 [B] and noise ε [B, d].</summary>
    public Tensor QSample(Tensor x0, Tensor t, Tensor noise)
    {
        using var scope = NewDisposeScope();
        var bar = Gather(AlphasCumprod, t, x0);
        return (bar.sqrt() * x0 + (1 - bar).sqrt() * noise).MoveToOuterDisposeScope();
    }

    /// <summary>The posterior mean c1_t·x̂0 + c2_t·x_t at one step t for every row.</summary>
    public Tensor PosteriorMean(Tensor x0Hat, Tensor xt, int t) =>
        x0Hat * PosteriorMeanCoef1[t] + xt * PosteriorMeanCoef2[t];

    /// <summary>One ancestral DDPM step: the posterior mean plus σ_t·z (no noise at t = 0).</summary>
    public Tensor DdpmStep(Tensor x0Hat, Tensor xt, int t, Tensor? z)
    {
        using var scope = NewDisposeScope();
        var mean = PosteriorMean(x0Hat, xt, t);
        if (t > 0)
        {
            if (z is null) throw new ArgumentNullException(nameof(z), "a DDPM step above t = 0 needs noise");
            mean = mean + z * Math.Sqrt(PosteriorVariance[t]);
        }
        return mean.MoveToOuterDisposeScope();
    }

    /// <summary>The deterministic DDIM step (η = 0) from step <paramref name="t"/> to the earlier step
    /// <paramref name="previous"/> (−1: past the start, where ᾱ = 1 and the step returns x̂0).</summary>
    public Tensor DdimStep(Tensor x0Hat, Tensor xt, int t, int previous)
    {
        if (previous >= t) throw new ArgumentOutOfRangeException(nameof(previous), previous, $"a DDIM step goes back in time (from {t})");
        double bar = AlphasCumprod[t], barPrev = previous < 0 ? 1.0 : AlphasCumprod[previous];
        // x_s = √ᾱ_s·x̂0 + √(1−ᾱ_s)·ε̂, with ε̂ = (x_t − √ᾱ_t·x̂0)/√(1−ᾱ_t).
        double k = Math.Sqrt(1 - barPrev) / Math.Sqrt(1 - bar);
        return x0Hat * (Math.Sqrt(barPrev) - k * Math.Sqrt(bar)) + xt * k;
    }

    /// <summary>DDIM's steps for <paramref name="steps"/> evaluations, highest first: τ_k = round((k+1)·T/n) − 1, so the
    /// walk starts at T − 1 and is evenly spaced; <paramref name="steps"/> = T gives every step.</summary>
    public int[] DdimSteps(int steps)
    {
        if (steps < 1 || steps > Timesteps) throw new ArgumentOutOfRangeException(nameof(steps), steps, $"DDIM steps must be in [1, {Timesteps}]");
        return Enumerable.Range(0, steps).Select(k => (int)Math.Round((k + 1) * (double)Timesteps / steps, MidpointRounding.AwayFromZero) - 1).Reverse().ToArray();
    }

    private static Tensor Gather(double[] values, Tensor t, Tensor like)
    {
        using var scope = NewDisposeScope();
        var table = tensor(values.Select(v => (float)v).ToArray(), device: like.device);
        return table.index_select(0, t).to_type(like.dtype).unsqueeze(1).MoveToOuterDisposeScope();
    }
}
