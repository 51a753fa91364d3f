#!/usr/bin/python3
"""Checks DeepArch serving bundles as Triton Inference Server would read them.

Usage: check_triton_config.py MODEL_DIRECTORY [MODEL_DIRECTORY ...]

For each model directory: config.pbtxt must parse, strictly (an unknown field or a wrong type is an error), with protobuf's
text_format against the field names of Triton's model_config.proto (the subset in triton/model_config.proto beside this
script, compiled with protoc); its name must be the directory's; 1/model.onnx must pass onnx.checker's full check; every
input and output of the ONNX graph must be in the configuration with the same element type and the same dimensions after
the batch dimension (a dynamic batch dimension needs max_batch_size > 0 and dynamic batching), and nothing else; a
label_filename must exist beside it with one line per value of that output. Prints one JSON line per bundle; exits 1 on
the first failure.
"""
import json
import os
import subprocess
import sys
import tempfile

import onnx
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format

HERE = os.path.dirname(os.path.abspath(__file__))

ONNX_TO_TRITON = {
    onnx.TensorProto.FLOAT: "TYPE_FP32", onnx.TensorProto.UINT8: "TYPE_UINT8", onnx.TensorProto.INT8: "TYPE_INT8",
    onnx.TensorProto.UINT16: "TYPE_UINT16", onnx.TensorProto.INT16: "TYPE_INT16", onnx.TensorProto.INT32: "TYPE_INT32",
    onnx.TensorProto.INT64: "TYPE_INT64", onnx.TensorProto.STRING: "TYPE_STRING", onnx.TensorProto.BOOL: "TYPE_BOOL",
    onnx.TensorProto.FLOAT16: "TYPE_FP16", onnx.TensorProto.DOUBLE: "TYPE_FP64", onnx.TensorProto.UINT32: "TYPE_UINT32",
    onnx.TensorProto.UINT64: "TYPE_UINT64", onnx.TensorProto.BFLOAT16: "TYPE_BF16",
}


def model_config_class():
    """inference.ModelConfig, compiled from the proto subset with protoc."""
    with tempfile.TemporaryDirectory() as tmp:
        descriptor_set = os.path.join(tmp, "model_config.pb")
        subprocess.run(["protoc", f"--proto_path={os.path.join(HERE, 'triton')}", f"--descriptor_set_out={descriptor_set}",
                        "model_config.proto"], check=True)
        files = descriptor_pb2.FileDescriptorSet()
        with open(descriptor_set, "rb") as f:
            files.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    return message_factory.MessageFactory(pool).GetPrototype(pool.FindMessageTypeByName("inference.ModelConfig"))


def fail(directory, message):
    print(json.dumps({"bundle": directory, "ok": False, "error": message}))
    sys.exit(1)


def check(directory, config_class):
    name = os.path.basename(os.path.normpath(directory))
    config = config_class()
    with open(os.path.join(directory, "config.pbtxt"), encoding="utf-8") as f:
        try:
            text_format.Parse(f.read(), config)
        except text_format.ParseError as e:
            fail(directory, f"config.pbtxt does not parse as inference.ModelConfig: {e}")
    data_type = config_class.DESCRIPTOR.fields_by_name["input"].message_type.fields_by_name["data_type"].enum_type
    if config.name != name:
        fail(directory, f"config name '{config.name}' is not the directory's '{name}'")
    if config.backend != "onnxruntime":
        fail(directory, f"backend '{config.backend}' is not onnxruntime")
    model_path = os.path.join(directory, "1", "model.onnx")
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    batched = False
    for kind, graph_values, configured in (("input", model.graph.input, config.input), ("output", model.graph.output, config.output)):
        by_name = {c.name: c for c in configured}
        if sorted(by_name) != sorted(v.name for v in graph_values):
            fail(directory, f"{kind}s {sorted(by_name)} in config.pbtxt, {sorted(v.name for v in graph_values)} in the graph")
        for value in graph_values:
            c = by_name[value.name]
            tensor = value.type.tensor_type
            dims = list(tensor.shape.dim)
            has_batch = len(dims) > 0 and not dims[0].HasField("dim_value")
            batched |= has_batch
            expected = [d.dim_value if d.HasField("dim_value") else -1 for d in dims[1 if has_batch else 0:]]
            if list(c.dims) != expected:
                fail(directory, f"{kind} '{c.name}': dims {list(c.dims)} in config.pbtxt, {expected} in the graph")
            configured_type = data_type.values_by_number[c.data_type].name
            if configured_type != ONNX_TO_TRITON[tensor.elem_type]:
                fail(directory, f"{kind} '{c.name}': {configured_type} in config.pbtxt, {ONNX_TO_TRITON[tensor.elem_type]} in the graph")
            if kind == "output" and c.label_filename:
                with open(os.path.join(directory, c.label_filename), encoding="utf-8") as f:
                    labels = f.read().splitlines()
                if len(labels) != expected[-1]:
                    fail(directory, f"{c.label_filename} holds {len(labels)} labels for {expected[-1]} values of '{c.name}'")
    if batched and (config.max_batch_size <= 0 or not config.HasField("dynamic_batching")):
        fail(directory, "a dynamic batch dimension without max_batch_size > 0 and dynamic batching")
    print(json.dumps({"bundle": directory, "ok": True, "name": config.name, "max_batch_size": config.max_batch_size,
                      "inputs": [c.name for c in config.input], "outputs": [c.name for c in config.output],
                      "labels": [c.label_filename for c in config.output if c.label_filename]}))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    config_class = model_config_class()
    for directory in sys.argv[1:]:
        check(directory, config_class)
