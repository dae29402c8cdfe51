#!/usr/bin/python3
"""Convert a TensorFlow.js graph model (model.json + weight shards) to ONNX.

Usage: scripts/tfjs2onnx.py MODEL.json OUT.onnx [--outputs NAME=TFNODE,...]
                            [--check-image FILE.rgb WxH]

Written for the CenterNet-MobileNetV3 detector of @vladmandic/human
(models/centernet.json) and maps exactly the TensorFlow ops that model uses
up to its heatmap/size heads; any other op is refused with its name. Needs
Debian's python3-onnx and python3-numpy only (run with /usr/bin/python3).

Layout: TF graphs are NHWC; the ONNX graph is NCHW throughout. The input
becomes 'images' [N,3,H,W] (float RGB 0..255, N dynamic), 4-D activations stay
NCHW, channel-axis attributes (ConcatV2, Mean) are remapped, filters are
transposed (HWIO -> OIHW, depthwise HWCM -> (C*M)1HW with group=C) and TF's
SAME padding (extra pixel at the end) becomes explicit ONNX pads computed from
the static spatial shapes, which this script tracks itself.

Default outputs for CenterNet (what lockstep's decoder expects):
  heatmap  [N,80,H/4,W/4]  class scores, already non-maximum suppressed
                           (score where it equals its 3x3 max, else 0)
  wh       [N,4,H/4,W/4]   distances (left, top, right, bottom) in input
                           pixels from the cell centre x*4, y*4
The TopK/gather post-processing of the TF graph is left out: it is batch-1
only, and lockstep decodes the two maps in C.

Weights: the manifest's dtype fields are honoured; 'quantization' entries
with dtype float16 (what this model uses), uint8 or uint16 (affine
min/scale) are dequantized to float32.

--check-image runs a numpy reference of the TF graph (NHWC, TF semantics,
written independently of the ONNX mapping) on a raw RGB image and writes
its outputs next to OUT.onnx as OUT.ref.npz, so a test can compare them
with what ONNX Runtime computes on the converted model.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def die(msg):
	print("tfjs2onnx: " + msg, file=sys.stderr)
	sys.exit(1)


def load_weights(model_path, manifest):
	base = os.path.dirname(model_path)
	out = {}
	for group in manifest:
		data = b"".join(open(os.path.join(base, p), "rb").read() for p in group["paths"])
		off = 0
		for w in group["weights"]:
			shape = w["shape"]
			count = int(np.prod(shape)) if shape else 1
			q = w.get("quantization")
			dtype = w["dtype"]
			if q:
				qd = q["dtype"]
				if qd == "float16":
					arr = np.frombuffer(data, np.float16, count, off).astype(np.float32)
					off += count * 2
				elif qd in ("uint8", "uint16"):
					npt = np.uint8 if qd == "uint8" else np.uint16
					raw = np.frombuffer(data, npt, count, off)
					off += count * np.dtype(npt).itemsize
					arr = raw.astype(np.float32) * q["scale"] + q["min"]
				else:
					die("%s: unsupported quantization dtype %s" % (w["name"], qd))
			elif dtype == "float32":
				arr = np.frombuffer(data, np.float32, count, off)
				off += count * 4
			elif dtype == "int32":
				arr = np.frombuffer(data, np.int32, count, off)
				off += count * 4
			elif dtype == "bool":
				arr = np.frombuffer(data, np.uint8, count, off).astype(bool)
				off += count
			else:
				die("%s: unsupported weight dtype %s" % (w["name"], dtype))
			if dtype == "int32":
				arr = arr.astype(np.int32)
			out[w["name"]] = np.array(arr).reshape(shape)
		if off != len(data):
			die("weights: manifest describes %d bytes, shards hold %d" % (off, len(data)))
	return out


def attr_s(node, key, default=None):
	import base64
	a = node.get("attr", {}).get(key)
	if a is None:
		return default
	return base64.b64decode(a["s"]).decode()


def attr_ints(node, key):
	a = node.get("attr", {}).get(key, {}).get("list", {}).get("i", [])
	return [int(x) for x in a]


def attr_b(node, key, default=False):
	return node.get("attr", {}).get(key, {}).get("b", default)


def fused_ops(node):
	import base64
	return [base64.b64decode(s).decode() for s in node.get("attr", {}).get("fused_ops", {}).get("list", {}).get("s", [])]


def same_pads(size, k, s, d=1):
	"""TF SAME padding: (begin, end, out)."""
	ke = (k - 1) * d + 1
	out = (size + s - 1) // s
	total = max((out - 1) * s + ke - size, 0)
	return total // 2, total - total // 2, out


class Converter:
	def __init__(self, model_path):
		m = json.load(open(model_path))
		if m.get("format") != "graph-model":
			die("%s: not a TFJS graph model (format=%r)" % (model_path, m.get("format")))
		self.nodes = {n["name"]: n for n in m["modelTopology"]["node"]}
		self.w = load_weights(model_path, m["weightsManifest"])
		self.onnx_nodes = []
		self.inits = []
		self.shape = {}   # tensor name -> (C, H, W) for 4-D activations
		self.done = {}    # tf name -> onnx name
		self.uid = 0

	def const(self, name):
		n = self.nodes.get(name)
		if n is None or n["op"] != "Const":
			return None
		return self.w[name]

	def init(self, arr, hint):
		self.uid += 1
		name = "%s__c%d" % (hint, self.uid)
		self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
		return name

	def node(self, op, inputs, hint, **attrs):
		self.uid += 1
		out = "%s__%d" % (hint, self.uid)
		self.onnx_nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
		return out

	def conv(self, n, x, depthwise):
		w = self.const(n["input"][1])
		strides = attr_ints(n, "strides")[1:3] or [1, 1]
		dil = attr_ints(n, "dilations")[1:3] or [1, 1]
		pad = attr_s(n, "padding")
		if attr_s(n, "data_format", "NHWC") != "NHWC":
			die("%s: data_format %s" % (n["name"], attr_s(n, "data_format")))
		c, h, wd = self.shape[x]
		kh, kw = w.shape[0], w.shape[1]
		if depthwise:
			cin, mult = w.shape[2], w.shape[3]
			wt = w.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
			group, cout = cin, cin * mult
		else:
			wt = w.transpose(3, 2, 0, 1)
			group, cout = 1, w.shape[3]
		if pad == "SAME":
			t, b, oh = same_pads(h, kh, strides[0], dil[0])
			l, r, ow = same_pads(wd, kw, strides[1], dil[1])
		elif pad == "VALID":
			t = b = l = r = 0
			oh = (h - (kh - 1) * dil[0] - 1) // strides[0] + 1
			ow = (wd - (kw - 1) * dil[1] - 1) // strides[1] + 1
		else:
			die("%s: padding %s" % (n["name"], pad))
		ins = [x, self.init(wt.astype(np.float32), n["name"] + "/W")]
		ops = fused_ops(n)
		if n["op"] in ("_FusedConv2D", "FusedDepthwiseConv2dNative"):
			if not ops or ops[0] != "BiasAdd":
				die("%s: fused ops %s" % (n["name"], ops))
			ins.append(self.init(self.const(n["input"][2]).astype(np.float32).reshape(-1), n["name"] + "/B"))
		y = self.node("Conv", ins, n["name"], kernel_shape=[kh, kw], strides=strides, dilations=dil,
		              pads=[t, l, b, r], group=group)
		for extra in ops[1:]:
			if extra == "Relu":
				y = self.node("Relu", [y], n["name"] + "/relu")
			elif extra == "Relu6":
				y = self.clip6(y, n["name"])
			else:
				die("%s: fused op %s" % (n["name"], extra))
		self.shape[y] = (cout, oh, ow)
		return y

	def clip6(self, x, hint):
		lo = self.init(np.array(0, np.float32), hint + "/lo")
		hi = self.init(np.array(6, np.float32), hint + "/hi")
		y = self.node("Clip", [x, lo, hi], hint + "/relu6")
		self.shape[y] = self.shape.get(x)
		return y

	def binary(self, n, op):
		a, b = n["input"]
		names = []
		for i in (a, b):
			c = self.const(i)
			if c is not None:
				if c.ndim != 0:
					die("%s: non-scalar constant operand %s %s" % (n["name"], i, c.shape))
				names.append(self.init(c.astype(np.float32), i))
			else:
				names.append(self.emit(i))
		y = self.node(op, names, n["name"])
		shp = [self.shape[x] for x in names if x in self.shape]
		if shp:
			self.shape[y] = max(shp)
		return y

	def emit(self, name):
		name = name.split(":")[0] if name.endswith(":0") else name
		if name in self.done:
			return self.done[name]
		n = self.nodes.get(name)
		if n is None:
			die("unknown tensor %s" % name)
		op = n["op"]
		if op == "Placeholder":
			dims = [int(d["size"]) for d in n["attr"]["shape"]["shape"]["dim"]]
			self.input_hw = (dims[1], dims[2], dims[3])
			y = "images"
			self.shape[y] = (dims[3], dims[1], dims[2])
		elif op in ("_FusedConv2D", "Conv2D"):
			y = self.conv(n, self.emit(n["input"][0]), False)
		elif op in ("FusedDepthwiseConv2dNative", "DepthwiseConv2dNative"):
			y = self.conv(n, self.emit(n["input"][0]), True)
		elif op == "Mul":
			y = self.binary(n, "Mul")
		elif op == "Add" or op == "AddV2":
			y = self.binary(n, "Add")
		elif op == "Sub":
			y = self.binary(n, "Sub")
		elif op == "Relu":
			x = self.emit(n["input"][0])
			y = self.node("Relu", [x], name)
			self.shape[y] = self.shape[x]
		elif op == "Relu6":
			y = self.clip6(self.emit(n["input"][0]), name)
		elif op == "Sigmoid":
			x = self.emit(n["input"][0])
			y = self.node("Sigmoid", [x], name)
			self.shape[y] = self.shape[x]
		elif op == "Identity":
			y = self.emit(n["input"][0])
		elif op == "Mean":
			x = self.emit(n["input"][0])
			axes = [int(a) for a in self.const(n["input"][1]).reshape(-1)]
			if sorted(axes) != [1, 2] or not attr_b(n, "keep_dims"):
				die("%s: Mean over %s (only spatial keep_dims supported)" % (name, axes))
			y = self.node("ReduceMean", [x], name, axes=[2, 3], keepdims=1)
			self.shape[y] = (self.shape[x][0], 1, 1)
		elif op == "ConcatV2":
			ins = n["input"][:-1]
			axis = int(self.const(n["input"][-1]))
			if axis not in (3, -1):
				die("%s: concat axis %d" % (name, axis))
			xs = [self.emit(i) for i in ins]
			y = self.node("Concat", xs, name, axis=1)
			s = [self.shape[x] for x in xs]
			self.shape[y] = (sum(c for c, _, _ in s), s[0][1], s[0][2])
		elif op == "ResizeBilinear":
			x = self.emit(n["input"][0])
			oh, ow = [int(v) for v in self.const(n["input"][1])]
			c, h, w = self.shape[x]
			if attr_b(n, "half_pixel_centers"):
				mode = "half_pixel"
			elif attr_b(n, "align_corners"):
				mode = "align_corners"
			else:
				mode = "asymmetric"
			roi = self.init(np.zeros(0, np.float32), name + "/roi")
			scales = self.init(np.array([1, 1, oh / h, ow / w], np.float32), name + "/scales")
			y = self.node("Resize", [x, roi, scales], name, mode="linear", coordinate_transformation_mode=mode)
			self.shape[y] = (c, oh, ow)
		elif op == "MaxPool":
			x = self.emit(n["input"][0])
			k = attr_ints(n, "ksize")[1:3]
			s = attr_ints(n, "strides")[1:3]
			c, h, w = self.shape[x]
			if attr_s(n, "padding") == "SAME":
				t, b, oh = same_pads(h, k[0], s[0])
				l, r, ow = same_pads(w, k[1], s[1])
			else:
				t = b = l = r = 0
				oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
			y = self.node("MaxPool", [x], name, kernel_shape=k, strides=s, pads=[t, l, b, r])
			self.shape[y] = (c, oh, ow)
		elif op == "Equal":
			a, b = [self.emit(i) for i in n["input"]]
			y = self.node("Equal", [a, b], name)
			self.shape[y] = self.shape[a]
		elif op == "Cast":
			x = self.emit(n["input"][0])
			if n["attr"]["DstT"]["type"] != "DT_FLOAT":
				die("%s: Cast to %s" % (name, n["attr"]["DstT"]["type"]))
			y = self.node("Cast", [x], name, to=TensorProto.FLOAT)
			self.shape[y] = self.shape[x]
		else:
			die("%s: unsupported op %s" % (name, op))
		self.done[name] = y
		return y

	def build(self, outputs):
		outs = []
		for onnx_name, tf_name in outputs:
			y = self.emit(tf_name)
			self.onnx_nodes.append(helper.make_node("Identity", [y], [onnx_name], name=onnx_name))
			c, h, w = self.shape[y]
			outs.append(helper.make_tensor_value_info(onnx_name, TensorProto.FLOAT, ["N", c, h, w]))
		ih, iw, ic = self.input_hw
		inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", ic, ih, iw])
		g = helper.make_graph(self.onnx_nodes, "centernet", [inp], outs, self.inits)
		model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
		                          producer_name="lockstep tfjs2onnx")
		model.ir_version = 7
		onnx.checker.check_model(model)
		return model


# --- numpy reference of the TF graph (NHWC, TF semantics) ---

def ref_pad(x, kh, kw, s, d, padding):
	if padding == "VALID":
		return x
	t, b, _ = same_pads(x.shape[1], kh, s[0], d[0])
	l, r, _ = same_pads(x.shape[2], kw, s[1], d[1])
	return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))


def ref_conv(x, w, s, d, padding, depthwise):
	kh, kw = w.shape[:2]
	x = ref_pad(x, kh, kw, s, d, padding)
	n, h, wd, c = x.shape
	oh = (h - (kh - 1) * d[0] - 1) // s[0] + 1
	ow = (wd - (kw - 1) * d[1] - 1) // s[1] + 1
	if depthwise:
		mult = w.shape[3]
		out = np.zeros((n, oh, ow, c * mult), np.float32)
		for i in range(kh):
			for j in range(kw):
				patch = x[:, i * d[0]:i * d[0] + (oh - 1) * s[0] + 1:s[0], j * d[1]:j * d[1] + (ow - 1) * s[1] + 1:s[1], :]
				out += (patch[..., :, None] * w[i, j][None, None, None]).reshape(n, oh, ow, c * mult)
		return out
	out = np.zeros((n, oh, ow, w.shape[3]), np.float32)
	for i in range(kh):
		for j in range(kw):
			patch = x[:, i * d[0]:i * d[0] + (oh - 1) * s[0] + 1:s[0], j * d[1]:j * d[1] + (ow - 1) * s[1] + 1:s[1], :]
			out += patch @ w[i, j]
	return out


def ref_resize(x, oh, ow):
	# TF ResizeBilinear, align_corners=False, half_pixel_centers=False
	n, h, w, c = x.shape
	ys = np.arange(oh) * (h / oh)
	xs = np.arange(ow) * (w / ow)
	y0 = np.floor(ys).astype(int); y1 = np.minimum(y0 + 1, h - 1); fy = (ys - y0)[None, :, None, None]
	x0 = np.floor(xs).astype(int); x1 = np.minimum(x0 + 1, w - 1); fx = (xs - x0)[None, None, :, None]
	top = x[:, y0][:, :, x0] * (1 - fx) + x[:, y0][:, :, x1] * fx
	bot = x[:, y1][:, :, x0] * (1 - fx) + x[:, y1][:, :, x1] * fx
	return (top * (1 - fy) + bot * fy).astype(np.float32)


def ref_eval(conv, img, names):
	vals = {}

	def ev(name):
		if name in vals:
			return vals[name]
		n = conv.nodes[name]
		op = n["op"]
		ins = n.get("input", [])
		if op == "Const":
			v = conv.w[name]
		elif op == "Placeholder":
			v = img
		elif op in ("_FusedConv2D", "Conv2D", "FusedDepthwiseConv2dNative", "DepthwiseConv2dNative"):
			v = ref_conv(ev(ins[0]), conv.w[ins[1]], attr_ints(n, "strides")[1:3], attr_ints(n, "dilations")[1:3],
			             attr_s(n, "padding"), "Depthwise" in op)
			fo = fused_ops(n)
			if fo:
				v = v + conv.w[ins[2]]
			if "Relu" in fo[1:]:
				v = np.maximum(v, 0)
		elif op == "Mul":
			v = ev(ins[0]) * ev(ins[1])
		elif op == "Add":
			v = ev(ins[0]) + ev(ins[1])
		elif op == "Relu":
			v = np.maximum(ev(ins[0]), 0)
		elif op == "Relu6":
			v = np.clip(ev(ins[0]), 0, 6)
		elif op == "Sigmoid":
			v = 1 / (1 + np.exp(-ev(ins[0])))
		elif op == "Identity":
			v = ev(ins[0])
		elif op == "Mean":
			v = ev(ins[0]).mean(axis=tuple(int(a) for a in conv.w[ins[1]]), keepdims=True)
		elif op == "ConcatV2":
			v = np.concatenate([ev(i) for i in ins[:-1]], axis=int(conv.w[ins[-1]]))
		elif op == "ResizeBilinear":
			oh, ow = [int(a) for a in conv.w[ins[1]]]
			v = ref_resize(ev(ins[0]), oh, ow)
		elif op == "MaxPool":
			x = ev(ins[0])
			p = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
			h, w = x.shape[1:3]
			v = np.max([p[:, i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=0)
		elif op == "Equal":
			v = ev(ins[0]) == ev(ins[1])
		elif op == "Cast":
			v = ev(ins[0]).astype(np.float32)
		else:
			die("reference: op %s" % op)
		vals[name] = np.asarray(v, dtype=np.float32) if op != "Equal" else v
		return vals[name]

	return [ev(n) for n in names]


def main(argv):
	if len(argv) < 3:
		die("usage: tfjs2onnx.py MODEL.json OUT.onnx [--outputs onnx=tfnode,...] [--check-image FILE.rgb WxH]")
	src, dst = argv[1], argv[2]
	outputs = [("heatmap", "tower_0/mul_1"), ("wh", "tower_0/wh")]
	check = None
	i = 3
	while i < len(argv):
		if argv[i] == "--outputs":
			outputs = [tuple(p.split("=", 1)) for p in argv[i + 1].split(",")]
			i += 2
		elif argv[i] == "--check-image":
			check = (argv[i + 1], argv[i + 2])
			i += 3
		else:
			die("unknown argument %s" % argv[i])
	if not os.path.exists(src):
		die("%s: no such file" % src)
	conv = Converter(src)
	model = conv.build(outputs)
	tmp = dst + ".tmp"
	onnx.save(model, tmp)
	os.replace(tmp, dst)
	ops = sorted({n["op"] for n in conv.nodes.values() if n["name"] in conv.done})
	print("tfjs2onnx: %s -> %s (%d ONNX nodes; TF ops mapped: %s)" % (src, dst, len(conv.onnx_nodes), ", ".join(ops)))
	if check:
		w, h = [int(v) for v in check[1].split("x")]
		img = np.fromfile(check[0], np.uint8).reshape(1, h, w, 3).astype(np.float32)
		refs = ref_eval(conv, img, [t for _, t in outputs])
		np.savez(os.path.splitext(dst)[0] + ".ref.npz",
		         **{o: r.transpose(0, 3, 1, 2) for (o, _), r in zip(outputs, refs)})
		print("tfjs2onnx: numpy reference of %s written" % ", ".join(o for o, _ in outputs))


if __name__ == "__main__":
	main(sys.argv)
