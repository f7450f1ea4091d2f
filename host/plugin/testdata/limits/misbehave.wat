;; Test guest for host/plugin, built by `make testdata` (wabt's wat2wasm).
;; Packed results are ptr<<32|len (sdk/ABI.md). Behaviour: one misbehaviour per export; validate_config is well-behaved, to show the host keeps serving.

(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)
  ;; One input buffer at a time: the host frees before the next call.
  (func $alloc (export "alloc") (param $n i32) (result i32) (i32.const 32768))
  (func $free (export "free") (param $p i32))
  (func $abi_version (export "abi_version") (result i32) (i32.const 1))
  (func $manifest (export "manifest") (result i64) (i64.const 4535485464666) (; ptr 1056, len 90 ;))
  (func $validate_config (export "validate_config") (param $in i32) (param $in_len i32) (result i64) (i64.const 4947802325001) (; ptr 1152, len 9 ;))
  (func $probe (export "probe") (param $in i32) (param $in_len i32) (result i64) ;; infinite loop
    (loop $forever (br $forever)) (i64.const 0))
  (func $sync (export "sync") (param $in i32) (param $in_len i32) (result i64) ;; grow until refused, then trap
    (block $done (loop $grow (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1))) (br $grow))) unreachable)
  (func $validate_write (export "validate_write") (param $in i32) (param $in_len i32) (result i64) ;; like a Go panic: message on stderr, exit code 2
    (i32.store (i32.const 512) (i32.const 1024)) (i32.store (i32.const 516) (i32.const 12))
    (drop (call $fd_write (i32.const 2) (i32.const 512) (i32.const 1) (i32.const 520))) (call $proc_exit (i32.const 2)) (i64.const 0))
  (func $dynamic_list (export "dynamic_list") (param $in i32) (param $in_len i32) (result i64) ;; out-of-range result: ptr 0x7fff0000, len 16
    (i64.const 9223090561878065168))
  (func $lease_create (export "lease_create") (param $in i32) (param $in_len i32) (result i64) (i64.const 4466765987855) (; ptr 1040, len 15 ;))
  (func $lease_renew (export "lease_renew") (param $in i32) (param $in_len i32) (result i64) ;; claims a 17 MiB result
    (i64.const 4398064336896))
  (func $lease_revoke (export "lease_revoke") (param $in i32) (param $in_len i32) (result i64) unreachable)
  (data (i32.const 1024) "panic: boom\0a")
  (data (i32.const 1040) "not json at all")
  (data (i32.const 1056) "{\22ok\22:{\22kind\22:\22misbehave\22,\22abi_version\22:1,\22features\22:7,\22config_schema\22:{\22type\22:\22object\22}}}")
  (data (i32.const 1152) "{\22ok\22:{}}")
)
