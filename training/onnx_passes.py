"""Rewrites of tf2onnx's output that onnxruntime runs faster, each with the same products and sums.

`fold_dilated_convs`: TensorFlow runs a dilated convolution as space-to-batch, a plain convolution and
batch-to-space, and tf2onnx writes that emulation out node by node. In `blind-unet` (the deep detector's
3x3 conv dilated by 2, once per look) its two DepthToSpace nodes were the model's slowest, 41 ms each of a
660 ms run on a 512x512 photo, against 14 ms for the convolution inside (`python scripts/profile_onnx.py
models/blind-unet.onnx --size 512 --nodes 25`, stop 25). ONNX's Conv has `dilations`, so the chain becomes
one node: the model 18% faster at 512x512 with outputs identical (docs/benchmarks.md).
"""

from __future__ import annotations

import onnx
from onnx import helper

SWAP_BATCH_AND_CHANNELS = [1, 0, 2, 3]


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def fold_dilated_convs(model: onnx.ModelProto) -> int:
    """Replace each space-to-batch dilated convolution in `model` by one Conv with `dilations`, in place;
    returns how many. The chain, as tf2onnx 1.17 writes it for a Keras `Conv2D(padding="same",
    dilation_rate=d)` with stride 1 and an odd kernel:

        Pad -> Transpose(1,0,2,3) -> SpaceToDepth(d) -> Transpose(1,0,2,3) -> Conv(valid, no dilation)
            -> Transpose(1,0,2,3) -> DepthToSpace(d) -> Slice

    The Pad and the Slice (their sizes computed from the input's shape) make the result "same"-sized, so
    the fold is Conv(dilations d, pads d * (k - 1) / 2 on each side), then the chain's last layout, batch
    and channels swapped, for the nodes after it. The weights, products and sums are the same; only the
    summation order may differ. A chain from a "valid" conv would fold to the wrong size: `export`'s
    parity check (Keras against onnxruntime) refuses such a file."""
    graph = model.graph
    nodes = list(graph.node)  # one Python object per node: protobuf makes a new wrapper on each access
    producer = {out: node for node in nodes for out in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in nodes:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def only_input(node: onnx.NodeProto, op: str) -> onnx.NodeProto | None:
        """The node feeding `node`'s first input, if it is an `op` whose output nothing else reads."""
        before = producer.get(node.input[0])
        if before is None or before.op_type != op or len(consumers.get(before.output[0], [])) != 1:
            return None
        return before

    def swaps(node: onnx.NodeProto | None) -> bool:
        return node is not None and _attrs(node).get("perm") == SWAP_BATCH_AND_CHANNELS

    folds = []
    for slice_ in (n for n in nodes if n.op_type == "Slice"):
        to_space = only_input(slice_, "DepthToSpace")
        back = to_space and only_input(to_space, "Transpose")
        conv = back and only_input(back, "Conv")
        forth = conv and only_input(conv, "Transpose")
        to_depth = forth and only_input(forth, "SpaceToDepth")
        first = to_depth and only_input(to_depth, "Transpose")
        pad = first and only_input(first, "Pad")
        if not (pad and swaps(back) and swaps(forth) and swaps(first)):
            continue
        block = _attrs(to_space)["blocksize"]
        conv_attrs = _attrs(conv)
        kernel = conv_attrs.get("kernel_shape")
        if (_attrs(to_depth)["blocksize"] != block or kernel is None or any(k % 2 == 0 for k in kernel)
                or any(v != 1 for v in conv_attrs.get("dilations", [1, 1]) + conv_attrs.get("strides", [1, 1]))
                or any(conv_attrs.get("pads", [0, 0, 0, 0])) or conv_attrs.get("auto_pad", b"NOTSET") != b"NOTSET"
                or _attrs(pad).get("mode", b"constant") != b"constant" or len([i for i in pad.input if i]) > 2):
            continue  # not the emulation this rewrite knows: left as it is
        half = [block * (k - 1) // 2 for k in kernel]
        dilated = slice_.output[0] + "_nchw"
        folded = [helper.make_node("Conv", [pad.input[0], *conv.input[1:]], [dilated], name=conv.name + "_dilated",
                                   kernel_shape=kernel, dilations=[block, block], strides=[1, 1],
                                   group=conv_attrs.get("group", 1), pads=half + half),
                  # the chain hands on (channels, batch, height, width), as its last Transpose left it
                  helper.make_node("Transpose", [dilated], [slice_.output[0]], name=conv.name + "_dilated_swap",
                                   perm=SWAP_BATCH_AND_CHANNELS)]
        folds.append((conv, folded, [pad, first, to_depth, forth, conv, back, to_space, slice_]))

    if not folds:
        return 0
    replaced = {id(conv): folded for conv, folded, _ in folds}  # in the conv's place: its inputs come before it
    dropped = {id(n) for conv, _, chain in folds for n in chain if n is not conv}
    rewritten = [_copy(m) for n in nodes if id(n) not in dropped for m in replaced.get(id(n), [n])]
    del graph.node[:]
    graph.node.extend(rewritten)
    _drop_unused(graph)
    return len(folds)


def _copy(node: onnx.NodeProto) -> onnx.NodeProto:
    out = onnx.NodeProto()
    out.CopyFrom(node)
    return out


def _drop_unused(graph: onnx.GraphProto) -> None:
    """Remove nodes and initializers no graph output depends on (the Pad's and the Slice's size arithmetic).
    Not in a graph with subgraphs (If, Loop), whose bodies may read outer names this walk does not see."""
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for n in graph.node for a in n.attribute):
        return
    needed = {out.name for out in graph.output}
    kept = []
    for node in reversed(list(graph.node)):
        if any(out in needed for out in node.output):
            kept.append(_copy(node))
            needed.update(name for name in node.input if name)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    used = [init for init in graph.initializer if init.name in needed]
    if len(used) < len(graph.initializer):
        kept_inits = []
        for init in used:
            copy = onnx.TensorProto()
            copy.CopyFrom(init)
            kept_inits.append(copy)
        del graph.initializer[:]
        graph.initializer.extend(kept_inits)
