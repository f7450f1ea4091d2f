;; Test guest for host/plugin, built by `make testdata` (wabt's wat2wasm).
;; Packed results are ptr<<32|len (sdk/ABI.md). Behaviour: probe sends its config object as the HTTP request descriptor, then returns the body http_body hands over (raw bytes, which the test makes an envelope) or {"ok":{}} when none is pending; validate_config sends the same request and reads the body to an out-of-range pointer.

(module
  (import "agent_vault_v1" "http_request" (func $http_request (param i32 i32) (result i32)))
  (import "agent_vault_v1" "http_response" (func $http_response (param i32 i32) (result i32)))
  (import "agent_vault_v1" "http_body" (func $http_body (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  ;; One input buffer at a time: the host frees before the next call.
  (func $alloc (export "alloc") (param $n i32) (result i32) (i32.const 32768))
  (func $free (export "free") (param $p i32))
  (func $abi_version (export "abi_version") (result i32) (i32.const 1))
  (func $manifest (export "manifest") (result i64) (i64.const 4501125726371) (; ptr 1048, len 163 ;))
  ;; send: the input is {"config":{...},...}: the config starts at in+10;
  ;; find its closing brace by counting depth, send it, collect the envelope
  ;; at 65536 and drop it.
  (func $send (param $in i32) (local $end i32) (local $depth i32) (local $n i32)
    (local.set $end (i32.add (local.get $in) (i32.const 10)))
    (block $found (loop $scan
      (if (i32.eq (i32.load8_u (local.get $end)) (i32.const 123)) (then (local.set $depth (i32.add (local.get $depth) (i32.const 1)))))
      (if (i32.eq (i32.load8_u (local.get $end)) (i32.const 125)) (then (local.set $depth (i32.sub (local.get $depth) (i32.const 1)))))
      (local.set $end (i32.add (local.get $end) (i32.const 1)))
      (br_if $found (i32.eqz (local.get $depth)))
      (br $scan)))
    (local.set $n (call $http_request (i32.add (local.get $in) (i32.const 10)) (i32.sub (local.get $end) (i32.add (local.get $in) (i32.const 10)))))
    (drop (call $http_response (i32.const 65536) (local.get $n))))
  (func $validate_config (export "validate_config") (param $in i32) (param $in_len i32) (result i64)
    (call $send (local.get $in))
    (drop (call $http_body (i32.const 0x7ffffff0) (i32.const 0x7fffffff)))
    (i64.const 5428838662153) (; ptr 1264, len 9 ;))
  (func $probe (export "probe") (param $in i32) (param $in_len i32) (result i64) (local $n i32)
    (call $send (local.get $in))
    ;; http_body(0, 0) asks for the length; a buffer one byte short gets the
    ;; same answer and nothing written; then the real copy to 65536.
    (local.set $n (call $http_body (i32.const 0) (i32.const 0)))
    (if (i32.eqz (local.get $n)) (then (return (i64.const 5428838662153))))
    (if (i32.ne (call $http_body (i32.const 65536) (i32.sub (local.get $n) (i32.const 1))) (local.get $n)) (then unreachable))
    (local.set $n (call $http_body (i32.const 65536) (local.get $n)))
    (i64.or (i64.shl (i64.const 65536) (i64.const 32)) (i64.extend_i32_u (local.get $n))))
  (func $sync (export "sync") (param $in i32) (param $in_len i32) (result i64) (i64.const 4398046511125) (; ptr 1024, len 21 ;))
  (data (i32.const 1024) "{\22ok\22:{\22secrets\22:{}}}")
  (data (i32.const 1048) "{\22ok\22:{\22kind\22:\22httpbody\22,\22abi_version\22:1,\22features\22:2,\22config_schema\22:{\22type\22:\22object\22},\22env\22:[{\22name\22:\22HTTPBODY_ORIGINS\22}],\22http_origins_env\22:\22HTTPBODY_ORIGINS\22}}")
  (data (i32.const 1264) "{\22ok\22:{}}")
)
