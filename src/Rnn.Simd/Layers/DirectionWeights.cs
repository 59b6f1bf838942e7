using Rnn.Simd.Cells;
using Rnn.Simd.Kernels.Gemm;

namespace Rnn.Simd.Layers;

/// <summary>
/// The parameters of one direction of one layer in the engine's layout (<see cref="GateLayout"/>), packed
/// once for the micro-kernels. Immutable; shared by every thread that runs the network.
/// </summary>
internal sealed class DirectionWeights
{
    /// <summary>[G·H, In + Hout] fused [W_x | W_h], packed for C = A · Wᵀ.</summary>
    public required PackedMatrix Fused { get; init; }

    /// <summary>[G·H] folded biases: b_ih + b_hh per gate row, except GRU's n row under reset-after (b_in only).</summary>
    public required float[] Bias { get; init; }

    /// <summary>GRU reset-after: b_hn [H], which stays inside the reset product. Empty otherwise.</summary>
    public float[] RecurrentNewBias { get; init; } = [];

    /// <summary>GRU reset-before: W_hn [H, Hout] packed alone, applied to r ⊙ h. Null otherwise.</summary>
    public PackedMatrix? RecurrentNew { get; init; }

    /// <summary>LSTM with projection: W_hr [P, H] packed. Null otherwise.</summary>
    public PackedMatrix? Projection { get; init; }

    /// <summary>Input features of this layer (X for layer 0).</summary>
    public required int InputSize { get; init; }

    /// <summary>
    /// Builds the engine layout from PyTorch's tensors of one (layer, direction): W_ih [G·H, In], W_hh [G·H, Hout],
    /// b_ih and b_hh [G·H] (either may be empty: no bias), W_hr [P, H] (LSTM projection only).
    /// </summary>
    public static DirectionWeights FromPyTorch(
        RecurrentNetworkOptions options, int inputSize, float[] weightIh, float[] weightHh, float[] biasIh, float[] biasHh, float[]? weightHr)
    {
        int gates = options.Gates, h = options.HiddenSize, hOut = options.OutputSize;
        int depth = inputSize + hOut;
        var fused = new float[gates * h * depth];   // [G·H, In + Hout], engine row order
        var bias = new float[gates * h];
        var newBias = Array.Empty<float>();
        bool resetAfter = options.Cell == CellType.Gru && options.GruVariant == GruVariant.ResetAfter;
        if (resetAfter)
        {
            newBias = new float[h];
        }

        for (int block = 0; block < gates; block++)
        {
            int engineBlock = GateLayout.FromPyTorch(options.Cell, block);
            for (int r = 0; r < h; r++)
            {
                int src = (block * h) + r, dst = (engineBlock * h) + r;
                Array.Copy(weightIh, src * inputSize, fused, dst * depth, inputSize);
                Array.Copy(weightHh, src * hOut, fused, (dst * depth) + inputSize, hOut);
                float bIh = biasIh.Length > 0 ? biasIh[src] : 0f;
                float bHh = biasHh.Length > 0 ? biasHh[src] : 0f;
                if (resetAfter && engineBlock == GateLayout.GruNew)
                {
                    bias[dst] = bIh;
                    newBias[r] = bHh;
                }
                else
                {
                    bias[dst] = bIh + bHh;
                }
            }
        }

        PackedMatrix? recurrentNew = null;
        if (options.Cell == CellType.Gru && options.GruVariant == GruVariant.ResetBefore)
        {
            recurrentNew = PackedMatrix.FromRowsAsColumns(weightHh.AsSpan(2 * h * hOut, h * hOut), h, hOut, hOut);
        }

        return new DirectionWeights
        {
            Fused = PackedMatrix.FromRowsAsColumns(fused, gates * h, depth, depth),
            Bias = bias,
            RecurrentNewBias = newBias,
            RecurrentNew = recurrentNew,
            Projection = weightHr is null ? null : PackedMatrix.FromRowsAsColumns(weightHr, hOut, h, h),
            InputSize = inputSize,
        };
    }
}
