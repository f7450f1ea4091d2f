;; Test guest for host/plugin, built by `make testdata` (wabt's wat2wasm).
;; Packed results are ptr<<32|len (sdk/ABI.md). Behaviour: loops forever in _initialize.

(module
  (memory (export "memory") 2)
  ;; One input buffer at a time: the host frees before the next call.
  (func $alloc (export "alloc") (param $n i32) (result i32) (i32.const 32768))
  (func $free (export "free") (param $p i32))
  (func $abi_version (export "abi_version") (result i32) (i32.const 1))
  (func $manifest (export "manifest") (result i64) (i64.const 4398046511193) (; ptr 1024, len 89 ;))
  (func $_initialize (export "_initialize") (loop $forever (br $forever)))
  (func $validate_config (export "validate_config") (param $in i32) (param $in_len i32) (result i64) (i64.const 4810363371529) (; ptr 1120, len 9 ;))
  (func $probe (export "probe") (param $in i32) (param $in_len i32) (result i64) (i64.const 4810363371529) (; ptr 1120, len 9 ;))
  (func $sync (export "sync") (param $in i32) (param $in_len i32) (result i64) (i64.const 4810363371529) (; ptr 1120, len 9 ;))
  (func $validate_write (export "validate_write") (param $in i32) (param $in_len i32) (result i64) (i64.const 4810363371529) (; ptr 1120, len 9 ;))
  (func $dynamic_list (export "dynamic_list") (param $in i32) (param $in_len i32) (result i64) (i64.const 4810363371529) (; ptr 1120, len 9 ;))
  (func $lease_create (export "lease_create") (param $in i32) (param $in_len i32) (result i64) (i64.const 4810363371529) (; ptr 1120, len 9 ;))
  (func $lease_renew (export "lease_renew") (param $in i32) (param $in_len i32) (result i64) (i64.const 4810363371529) (; ptr 1120, len 9 ;))
  (func $lease_revoke (export "lease_revoke") (param $in i32) (param $in_len i32) (result i64) (i64.const 4810363371529) (; ptr 1120, len 9 ;))
  (data (i32.const 1024) "{\22ok\22:{\22kind\22:\22initloop\22,\22abi_version\22:1,\22features\22:0,\22config_schema\22:{\22type\22:\22object\22}}}")
  (data (i32.const 1120) "{\22ok\22:{}}")
)
