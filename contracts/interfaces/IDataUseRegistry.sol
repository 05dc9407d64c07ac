// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title IDataUseRegistry
 * @notice A public, immutable ledger of data-use grants. A grant says: subject S lets grantee G use
 * S's data of category C for purpose P until time T. Category and purpose are `bytes32` ids, the
 * keccak256 of a UTF-8 label (`contact.email`, `dpv:Marketing`); nothing personal is stored.
 *
 * Validity is the half-open window `[grantedAt, expiresAt)`: a grant is valid at time `t` when
 * `t < expiresAt`, it was not revoked (one by one, or by a later {revokeAll} to its grantee) and the
 * subject's data expiry for the category, if set, is after `t`. At `t == expiresAt` it is already
 * expired.
 *
 * Only the subject changes its grants: directly, or through an EIP-712 signature that anyone may
 * relay (EIP-1271 contract wallets included). There is no owner and no upgrade path.
 *
 * The events below rebuild every grant's complete timeline from logs alone.
 */
interface IDataUseRegistry {
    /**
     * @dev A grant, packed in one storage slot. `grantee == address(0)` means no grant was ever
     * issued under this id; `expiresAt == 0` means it was revoked.
     */
    struct Grant {
        address grantee;
        uint48 grantedAt;
        uint48 expiresAt;
    }

    /// @dev One grant of a batch: see {grantBatch}.
    struct GrantRequest {
        address grantee;
        bytes32 category;
        bytes32 purpose;
        uint48 expiresAt;
    }

    /**
     * @dev Why {check} finds a grant not valid. `None` means it is valid. When a grant has ended in
     * more than one way, the first reason in this order wins: `NoGrant`, `Revoked`, then whichever of
     * `Expired` and `DataExpired` came first.
     */
    enum DenyReason {
        None,
        NoGrant,
        Expired,
        Revoked,
        DataExpired
    }

    /**
     * @dev Emitted when `subject` issues a new grant to `grantee`, or re-issues one that had ended.
     * The grant's id is {grantIdOf}(subject, grantee, category, purpose); it starts at the block's
     * timestamp.
     */
    event GrantIssued(
        address indexed subject,
        address indexed grantee,
        bytes32 category,
        bytes32 purpose,
        uint48 expiresAt
    );

    /// @dev Emitted when `subject` moves the expiry of an active grant (extends or shortens it).
    event GrantExpiryChanged(
        address indexed subject,
        address indexed grantee,
        bytes32 grantId,
        uint48 previousExpiresAt,
        uint48 newExpiresAt
    );

    /// @dev Emitted when `subject` revokes one grant. It ends at the block's timestamp.
    event GrantRevoked(address indexed subject, address indexed grantee, bytes32 grantId);

    /**
     * @dev Emitted when `subject` ends every grant it issued to `grantee` at or before this block's
     * timestamp (see {revokeAll}).
     */
    event AllGrantsRevoked(address indexed subject, address indexed grantee);

    /**
     * @dev Emitted when `subject` sets (or, with `expiresAt == 0`, clears) the time after which its
     * data of `category` must no longer exist. No grant on that category is valid at or after it.
     */
    event DataExpirySet(address indexed subject, bytes32 indexed category, uint48 previousExpiresAt, uint48 expiresAt);

    /// @dev The grantee is the zero address.
    error DataUseRegistryInvalidGrantee(address grantee);

    /// @dev `expiresAt` is not after the current block's timestamp `now`.
    error DataUseRegistryExpiryNotInFuture(uint48 expiresAt, uint48 now);

    /// @dev `grantId` names no grant of the caller that is still active.
    error DataUseRegistryGrantNotActive(address subject, bytes32 grantId);

    /// @dev The signature's `deadline` has passed.
    error DataUseRegistryExpiredSignature(uint256 deadline);

    /// @dev The signature was not made by `subject` over this request with its current nonce.
    error DataUseRegistryInvalidSignature(address subject);

    /**
     * @notice Grants `grantee` the use of the caller's data of `category` for `purpose` until
     * `expiresAt` (exclusive). If that grant is active already, only its expiry changes (see
     * {changeExpiry}); if it had ended, it is issued anew from now.
     * @return grantId the id of the grant, {grantIdOf}(msg.sender, grantee, category, purpose).
     */
    function grant(
        address grantee,
        bytes32 category,
        bytes32 purpose,
        uint48 expiresAt
    ) external returns (bytes32 grantId);

    /// @notice {grant} for each request, in order, in one transaction.
    function grantBatch(GrantRequest[] calldata requests) external;

    /**
     * @notice Sets a new expiry (later or earlier, but in the future) on a grant of the caller that is
     * neither expired nor revoked. A grant ended by {revokeAll} keeps its new expiry on record but
     * stays ended: {check} keeps answering `Revoked`.
     */
    function changeExpiry(bytes32 grantId, uint48 expiresAt) external;

    /// @notice Revokes an active grant of the caller. Revoking an ended grant does nothing.
    function revoke(bytes32 grantId) external;

    /// @notice {revoke} for each id, in order, in one transaction.
    function revokeBatch(bytes32[] calldata grantIds) external;

    /**
     * @notice Ends, in constant gas, every grant the caller has issued to `grantee` at or before this
     * block's timestamp. Grants issued at a later timestamp are unaffected; one issued in the same
     * second, even after this call, is ended too (the registry fails closed rather than guess the
     * order within a second).
     */
    function revokeAll(address grantee) external;

    /**
     * @notice Sets the time after which the caller's data of `category` must not exist ("burn after
     * use"), or clears it with `expiresAt == 0`. The gateway deletes the data at that instant.
     */
    function setDataExpiry(bytes32 category, uint48 expiresAt) external;

    /// @notice {grant} signed by `subject` (EIP-712 `Grant`), relayed by anyone.
    function grantBySig(
        address subject,
        address grantee,
        bytes32 category,
        bytes32 purpose,
        uint48 expiresAt,
        uint256 deadline,
        bytes calldata signature
    ) external returns (bytes32 grantId);

    /// @notice {changeExpiry} signed by `subject` (EIP-712 `ChangeExpiry`), relayed by anyone.
    function changeExpiryBySig(
        address subject,
        bytes32 grantId,
        uint48 expiresAt,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice {revoke} signed by `subject` (EIP-712 `Revoke`), relayed by anyone.
    function revokeBySig(address subject, bytes32 grantId, uint256 deadline, bytes calldata signature) external;

    /// @notice {revokeAll} signed by `subject` (EIP-712 `RevokeAll`), relayed by anyone.
    function revokeAllBySig(address subject, address grantee, uint256 deadline, bytes calldata signature) external;

    /// @notice {setDataExpiry} signed by `subject` (EIP-712 `SetDataExpiry`), relayed by anyone.
    function setDataExpiryBySig(
        address subject,
        bytes32 category,
        uint48 expiresAt,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice The id of the grant of `subject` to `grantee` for `category` and `purpose`.
    function grantIdOf(
        address subject,
        address grantee,
        bytes32 category,
        bytes32 purpose
    ) external pure returns (bytes32);

    /// @notice The stored record of a grant (all zero when none was ever issued).
    function getGrant(address subject, bytes32 grantId) external view returns (Grant memory);

    /**
     * @notice Whether `grantee` may use `subject`'s data of `category` for `purpose` now.
     * @return valid true when the grant is valid at this block's timestamp.
     * @return expiresAt when it stops (or stopped) being valid: the earlier of its own expiry and the
     * category's data expiry; 0 when there is no grant or it was revoked.
     * @return reason `None` when valid, otherwise why not.
     */
    function check(
        address subject,
        address grantee,
        bytes32 category,
        bytes32 purpose
    ) external view returns (bool valid, uint48 expiresAt, DenyReason reason);

    /// @notice The data expiry of `subject`'s `category` (0 when none is set).
    function dataExpiryOf(address subject, bytes32 category) external view returns (uint48);

    /// @notice The timestamp of the last {revokeAll} by `subject` to `grantee` (0 when none).
    function allRevokedAt(address subject, address grantee) external view returns (uint48);
}
