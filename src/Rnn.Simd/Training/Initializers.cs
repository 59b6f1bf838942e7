using System.Diagnostics;
using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.Parameters;

namespace Rnn.Simd.Training;

/// <summary>
/// Seeded initialisation of a <see cref="ParameterSet"/>, tensor by tensor according to its role, gate blocks and
/// cell (<see cref="RecurrentInitialization"/>). The same seed gives the same bits on every machine, vector width and
/// thread count.
/// </summary>
/// <remarks>
/// Each tensor draws from its own <see cref="DeterministicRandom"/>, seeded from the seed and the tensor's name
/// (SplitMix64 of the seed xor a 64-bit FNV-1a hash of the name), so a tensor's values depend on the seed, its name,
/// shape and scheme only: adding a layer or reordering the set leaves the other tensors' values alone. Numbers are
/// drawn in double (uniforms on a 2⁻²⁴ grid, normals by the polar method, orthogonal factors by modified
/// Gram–Schmidt with re-orthogonalisation) and rounded to float once.
/// </remarks>
public static class Initializers
{
    /// <summary>
    /// Fills every tensor of <paramref name="set"/> according to <paramref name="scheme"/>, then calls
    /// <see cref="ParameterSet.MarkChanged"/>. Shapes are checked for every tensor before any value is written.
    /// </summary>
    /// <remarks>
    /// The hidden size H of PyTorch's default bound 1/√H is Shape[0] / GateBlocks for input and recurrent weights and
    /// biases, and Shape[1] for projection weights [P, H] (PyTorch uses the hidden size for every tensor of the
    /// module). A dense bias <c>….bias</c> takes its fan-in from the dense weight <c>….weight</c> of the same prefix.
    /// Embedding tables (<see cref="ParameterRole.Embedding"/>) draw from N(0, 1) whatever the scheme, as nn.Embedding.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">The scheme holds an undefined choice, a non-positive gain or a non-finite value.</exception>
    /// <exception cref="ArgumentException">A tensor's shape does not fit its role (weights are 2-D, biases 1-D, rows a multiple of the gate blocks), or a dense bias has no weight.</exception>
    public static void Apply(ParameterSet set, RecurrentInitialization scheme, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(scheme);
        Validate(scheme);

        IReadOnlyList<ParameterTensor> tensors = set.Tensors;
        var plans = new (int Rows, int Cols, int Blocks, double Bound)[tensors.Count];
        for (int i = 0; i < tensors.Count; i++)
        {
            plans[i] = Plan(set, tensors[i], scheme);
        }

        for (int i = 0; i < tensors.Count; i++)
        {
            ParameterTensor t = tensors[i];
            (int rows, int cols, int blocks, double bound) = plans[i];
            var random = new DeterministicRandom(StreamSeed(seed, t.Name));
            Span<float> values = set.Value(t);
            if (IsBias(t.Role))
            {
                if (scheme.Biases == BiasInitialization.Zero)
                {
                    values.Clear();
                }
                else
                {
                    Uniform(values, bound, random);
                }

                continue;
            }

            if (t.Role == ParameterRole.Embedding)
            {
                Normal(values, 1.0, random);   // nn.Embedding: N(0, 1)
                continue;
            }

            WeightInitialization kind = t.Role switch
            {
                ParameterRole.InputWeight => scheme.InputWeights,
                ParameterRole.RecurrentWeight => scheme.RecurrentWeights,
                ParameterRole.ProjectionWeight => scheme.ProjectionWeights,
                _ => scheme.DenseWeights,
            };

            int blockRows = rows / blocks;
            for (int b = 0; b < blocks; b++)
            {
                Span<float> block = values.Slice(b * blockRows * cols, blockRows * cols);
                switch (kind)
                {
                    case WeightInitialization.PyTorchDefault:
                        Uniform(block, bound, random);
                        break;
                    case WeightInitialization.XavierUniform:
                        Uniform(block, scheme.Gain * Math.Sqrt(6.0 / (blockRows + cols)), random);
                        break;
                    case WeightInitialization.XavierNormal:
                        Normal(block, scheme.Gain * Math.Sqrt(2.0 / (blockRows + cols)), random);
                        break;
                    case WeightInitialization.Orthogonal:
                        Orthogonal(block, blockRows, cols, scheme.Gain, random);
                        break;
                    default:
                        Identity(block, blockRows, cols, scheme.IdentityScale);
                        break;
                }
            }
        }

        if (scheme.LstmForgetGateBias is double forget)
        {
            foreach (ParameterTensor t in tensors)
            {
                if (t.Spec.Cell == CellType.Lstm && t.Role is ParameterRole.InputBias or ParameterRole.RecurrentBias)
                {
                    int h = t.Length / t.Spec.GateBlocks;
                    set.Value(t).Slice(h, h).Fill(t.Role == ParameterRole.InputBias ? (float)forget : 0f);   // PyTorch gate order i, f, g, o
                }
            }
        }

        set.MarkChanged();
    }

    /// <summary>U(−bound, bound): bound · (2u − 1) with u on the 2⁻²⁴ grid, in double, rounded to float once.</summary>
    internal static void Uniform(Span<float> values, double bound, DeterministicRandom random)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(bound * ((2.0 * random.NextSingle()) - 1.0));
        }
    }

    /// <summary>N(0, std²), drawn in double and rounded to float once.</summary>
    internal static void Normal(Span<float> values, double std, DeterministicRandom random)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(std * random.NextNormal());
        }
    }

    /// <summary>Row-major rows × cols: scale on the main diagonal, zeros elsewhere.</summary>
    internal static void Identity(Span<float> matrix, int rows, int cols, double scale)
    {
        Debug.Assert(matrix.Length == rows * cols);
        matrix.Clear();
        for (int i = 0; i < Math.Min(rows, cols); i++)
        {
            matrix[(i * cols) + i] = (float)scale;
        }
    }

    /// <summary>
    /// A Haar-random row-major rows × cols matrix with orthonormal columns (rows ≥ cols) or rows (rows &lt; cols),
    /// times <paramref name="gain"/>. With n = max(rows, cols) and k = min(rows, cols), an n × k standard normal
    /// matrix is orthonormalised column by column by modified Gram–Schmidt, twice per column ("twice is enough",
    /// so orthogonality holds to double rounding whatever the conditioning); the result is the Q of A = QR with a
    /// positive diagonal of R, which is what makes it Haar-distributed (Mezzadri, 2007). Transposed when rows &lt; cols.
    /// </summary>
    internal static void Orthogonal(Span<float> matrix, int rows, int cols, double gain, DeterministicRandom random)
    {
        Debug.Assert(matrix.Length == rows * cols);
        int n = Math.Max(rows, cols), k = Math.Min(rows, cols);
        var q = new double[k * n];   // column j of the n × k factor at q[j·n …], contiguous
        for (int i = 0; i < q.Length; i++)
        {
            q[i] = random.NextNormal();
        }

        for (int j = 0; j < k; j++)
        {
            Span<double> v = q.AsSpan(j * n, n);
            for (int pass = 0; pass < 2; pass++)
            {
                for (int p = 0; p < j; p++)
                {
                    ReadOnlySpan<double> u = q.AsSpan(p * n, n);
                    double dot = 0;
                    for (int r = 0; r < n; r++)
                    {
                        dot += u[r] * v[r];
                    }

                    for (int r = 0; r < n; r++)
                    {
                        v[r] -= dot * u[r];
                    }
                }
            }

            double norm = 0;
            for (int r = 0; r < n; r++)
            {
                norm += v[r] * v[r];
            }

            norm = Math.Sqrt(norm);   // R[j, j] > 0 almost surely (a normal matrix has full rank)
            for (int r = 0; r < n; r++)
            {
                v[r] /= norm;
            }
        }

        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                // rows ≥ cols: W[r, c] = Q[r, c] (column c of Q); else W = Qᵀ: W[r, c] = Q[c, r] (column r of Q).
                double value = rows >= cols ? q[(c * n) + r] : q[(r * n) + c];
                matrix[(r * cols) + c] = (float)(gain * value);
            }
        }
    }

    /// <summary>The seed of a tensor's own stream: SplitMix64 of the seed xor FNV-1a-64 of its name (UTF-16 code units).</summary>
    internal static ulong StreamSeed(ulong seed, string name)
    {
        ulong hash = 0xCBF29CE484222325UL;
        foreach (char c in name)
        {
            hash = (hash ^ c) * 0x100000001B3UL;
        }

        ulong state = seed ^ hash;
        return DeterministicRandom.SplitMix64(ref state);
    }

    private static bool IsBias(ParameterRole role) => role is ParameterRole.InputBias or ParameterRole.RecurrentBias or ParameterRole.DenseBias or ParameterRole.PeepholeWeight;

    /// <summary>Checks a tensor's shape against its role; returns its matrix view, gate blocks and PyTorch's default bound.</summary>
    private static (int Rows, int Cols, int Blocks, double Bound) Plan(ParameterSet set, ParameterTensor t, RecurrentInitialization scheme)
    {
        IReadOnlyList<int> shape = t.Shape;
        int blocks = t.Spec.GateBlocks;
        bool bias = IsBias(t.Role);
        if (shape.Count != (bias ? 1 : 2))
        {
            ThrowHelper.Argument(nameof(set), $"Parameter {t} has role {t.Role} and must be {(bias ? "1-D" : "2-D")}.");
        }

        if (t.Role is ParameterRole.ProjectionWeight or ParameterRole.DenseWeight or ParameterRole.DenseBias or ParameterRole.Embedding)
        {
            blocks = 1;
        }

        if (blocks < 1 || shape[0] % blocks != 0)
        {
            ThrowHelper.Argument(nameof(set), $"Parameter {t}: {shape[0]} rows do not split into {t.Spec.GateBlocks} gate blocks.");
        }

        if (scheme.LstmForgetGateBias is not null && t.Spec.Cell == CellType.Lstm &&
            t.Role is ParameterRole.InputBias or ParameterRole.RecurrentBias && blocks != 4)
        {
            ThrowHelper.Argument(nameof(set), $"LSTM bias {t} must have 4 gate blocks (i, f, g, o) to set the forget-gate bias.");
        }

        int rows = shape[0], cols = bias ? 1 : shape[1];
        int fanIn = t.Role switch
        {
            ParameterRole.ProjectionWeight => cols,            // [P, H]: PyTorch's bound uses the hidden size H
            ParameterRole.DenseWeight => cols,                 // [out, in]
            ParameterRole.DenseBias => DenseFanIn(set, t),
            _ => rows / blocks,                                // gate blocks of H rows
        };

        return (rows, cols, blocks, 1.0 / Math.Sqrt(fanIn));
    }

    private static int DenseFanIn(ParameterSet set, ParameterTensor bias)
    {
        const string Suffix = "bias";
        string name = bias.Name;
        ParameterTensor? weight = null;
        if (name.EndsWith(Suffix, StringComparison.Ordinal))
        {
            set.TryGet(string.Concat(name.AsSpan(0, name.Length - Suffix.Length), "weight"), out weight);
        }

        if (weight is null || weight.Role != ParameterRole.DenseWeight || weight.Shape.Count != 2 || weight.Shape[0] != bias.Shape[0])
        {
            ThrowHelper.Argument(nameof(set), $"Dense bias {bias} needs a dense weight of the same prefix ('….weight' [{bias.Shape[0]}, in]) for its fan-in.");
        }

        return weight.Shape[1];
    }

    private static void Validate(RecurrentInitialization scheme)
    {
        foreach (WeightInitialization kind in (ReadOnlySpan<WeightInitialization>)[scheme.InputWeights, scheme.RecurrentWeights, scheme.ProjectionWeights, scheme.DenseWeights])
        {
            if (!Enum.IsDefined(kind))
            {
                ThrowHelper.ArgumentOutOfRange(nameof(scheme), $"{kind} is not a weight initialisation.");
            }
        }

        if (!Enum.IsDefined(scheme.Biases))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(scheme), $"{scheme.Biases} is not a bias initialisation.");
        }

        if (!(scheme.Gain > 0) || double.IsPositiveInfinity(scheme.Gain))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(scheme), $"Gain must be positive and finite, was {scheme.Gain}.");
        }

        if (!double.IsFinite(scheme.IdentityScale))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(scheme), $"IdentityScale must be finite, was {scheme.IdentityScale}.");
        }

        if (scheme.LstmForgetGateBias is double forget && !double.IsFinite(forget))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(scheme), $"LstmForgetGateBias must be finite, was {forget}.");
        }
    }
}
